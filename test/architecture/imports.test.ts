import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { resolveInPackage } from "../../src/paths.js";

// The product never depends on the sandbox. These folders ship (or feed what ships: the production
// image compiles src, mcp-infra, blocks, scenarios and prompts, and runs bin/backstop.js); none of
// their files may import anything under sandbox/. Outside the check: sandbox/ itself, test/, and
// bench/, which drives the sandbox stack to measure the product and ships in no image.
const PRODUCT = ["src", "mcp-infra", "blocks", "scenarios", "prompts", "bin"];
const root = resolveInPackage();
const sandboxDir = resolveInPackage("sandbox");

/** Every `.ts`/`.js` file under `dir` (recursively), absolute paths. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The module specifiers `text` imports, as TypeScript's own pre-processor reads them: static
 * `import`/`export … from`, `import type`, `import()` and `require()` with a string literal.
 */
function importSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The specifiers of `text` (the file at `file`) that resolve inside `sandboxDir`. */
function sandboxImports(file: string, text: string): string[] {
  return importSpecifiers(text).filter((spec) => {
    if (!spec.startsWith(".") && !spec.startsWith("/")) return false; // a package, not a path
    const target = resolve(dirname(file), spec);
    return target === sandboxDir || target.startsWith(sandboxDir + sep);
  });
}

describe("the product does not import the sandbox", () => {
  it("reads every kind of import, so the check below can fail", () => {
    const text = [
      'import { a } from "../../sandbox/stack.js";',
      'import type { B } from "../../sandbox/harness.js";',
      'export { c } from "../sandbox/demo.js";',
      'const d = await import("../../sandbox/cli/index.js");',
      'import { e } from "../config.js";',
      'import { f } from "sandbox-package";',
    ].join("\n");
    expect(sandboxImports(resolveInPackage("src", "cli", "x.ts"), text)).toEqual([
      "../../sandbox/stack.js",
      "../../sandbox/harness.js",
      "../../sandbox/cli/index.js",
    ]);
    // `../sandbox/demo.js` from src/cli is src/sandbox/demo.js, not the sandbox.
    expect(
      sandboxImports(resolveInPackage("src", "x.ts"), 'export { c } from "../sandbox/demo.js";'),
    ).toEqual(["../sandbox/demo.js"]);
  });

  it("no file in src, mcp-infra, blocks, scenarios, prompts or bin imports sandbox/", () => {
    const offenders: string[] = [];
    let files = 0;
    for (const folder of PRODUCT) {
      for (const file of sourceFiles(resolveInPackage(folder))) {
        files++;
        for (const spec of sandboxImports(file, readFileSync(file, "utf8")))
          offenders.push(`${relative(root, file)} imports ${spec}`);
      }
    }
    expect(files).toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });
});
