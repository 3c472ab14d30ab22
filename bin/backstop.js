#!/usr/bin/env node
// The `backstop` command. Runs the compiled CLI; `npm install` builds it (the `prepare` script).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
if (!existsSync(main)) {
  console.error("backstop: the CLI is not built yet. Run `npm run build` (npm install does it for you).");
  process.exit(1);
}
await import(main);
