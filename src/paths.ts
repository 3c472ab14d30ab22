import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package root (the folder holding Backstop's package.json), whether running from `src/` through
 * tsx/vitest or from the compiled `dist/src/`. Used to find `prompts/`, `scenarios/` and `policy/`.
 */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "scenarios"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`backstop: cannot find the package root from ${import.meta.url}`);
    dir = parent;
  }
})();

/** Absolute path of a file inside the package, e.g. `resolveInPackage("prompts", "diagnosis.md")`. */
export function resolveInPackage(...segments: string[]): string {
  return join(packageRoot, ...segments);
}
