/**
 * Builds the /run console page (`sandbox/console/web/`) into `dist/console/`, which
 * `sandbox/console/server.ts` serves. Everything is bundled: no CDN, fonts or scripts from elsewhere at run
 * time. Run by `npm run build` (`vite build --config sandbox/console/vite.config.ts`).
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: resolve(here, "web"),
  base: "/",
  publicDir: false,
  logLevel: "warn",
  build: {
    outDir: resolve(here, "..", "..", "dist", "console"),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    assetsInlineLimit: 0,
  },
});
