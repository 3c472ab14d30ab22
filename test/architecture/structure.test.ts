import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveInPackage } from "../../src/paths.js";

// The structure checks CI runs on every change (issue 12): no import cycle, no file too long to read in
// one sitting, no copy-pasted block. Every threshold lives in STRUCTURE below. The rule that nothing in
// the product imports sandbox/ is test/architecture/imports.test.ts.

/** Every threshold and folder list of the structure checks, in one place. */
const STRUCTURE = {
  /** Folders madge walks for import cycles (TypeScript files, type-only imports included, as the CLI does). */
  cycleFolders: ["src", "blocks", "mcp-infra", "sandbox"],
  /** Folders whose source files must stay at or under `maxLines` lines; `scenarios` counts only its `.ts`. */
  lengthFolders: ["src", "blocks", "mcp-infra", "sandbox", "prompts", "scenarios", "bench"],
  /** The most lines a source file may have (`wc -l`: newline characters). */
  maxLines: 400,
  /** Folders checked for repeated blocks: everything that ships or drives the product, not test/. */
  duplicateFolders: ["src", "blocks", "mcp-infra", "sandbox", "prompts", "scenarios", "bench", "bin"],
  /** A repeated block this long (lines) or longer is an offender (`jscpd --min-lines 6`). */
  minDuplicateLines: 6,
  /** jscpd formats checked: code only; scenario YAML is data (each scenario is a whole world on purpose). */
  duplicateFormats: ["typescript", "javascript", "tsx"],
  /** Never walked: dependencies, build output, generated files. */
  ignore: ["**/node_modules/**", "**/dist/**", "**/*.d.ts", "**/generated/**"],
} as const;

/** File extensions counted as source code by the length check. */
const SOURCE = /\.(ts|tsx|js|mjs|cjs)$/;
const root = resolveInPackage();

/** The subset of madge's JS API used here (madge ships no types). */
interface MadgeResult {
  circular(): string[][];
  warnings(): { skipped: string[] };
}
type Madge = (paths: string[], config: Record<string, unknown>) => Promise<MadgeResult>;
const require = createRequire(import.meta.url);
const madge = require("madge") as Madge;
// jscpd 4's ESM build imports `colors/safe` without an extension, which Node's ESM loader refuses; its
// CommonJS build is the same API.
const { detectClones } = require("jscpd") as typeof import("jscpd");

/** The import cycles among the TypeScript files under `folders` (absolute), each as a list of paths relative to `baseDir`. */
async function importCycles(folders: string[], baseDir: string): Promise<string[][]> {
  const result = await madge(folders, {
    baseDir,
    fileExtensions: ["ts"],
    excludeRegExp: [/node_modules/, /(^|\/)dist\//, /\.d\.ts$/],
    tsConfig: resolveInPackage("tsconfig.json"),
  });
  return result.circular();
}

/** Source files (by `SOURCE`) under `dir`, recursively, skipping node_modules and dist; absolute paths. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && SOURCE.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !/(^|\/)(node_modules|dist)\//.test(relative(dir, f)));
}

/** `path: lines` for every source file under `folders` (absolute) longer than `max` lines, longest first. */
function longFiles(folders: string[], max: number, baseDir: string): string[] {
  const rows: [string, number][] = [];
  for (const folder of folders) {
    for (const file of sourceFiles(folder)) {
      const lines = (readFileSync(file, "utf8").match(/\n/g) ?? []).length;
      if (lines > max) rows.push([relative(baseDir, file), lines]);
    }
  }
  return rows.sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f}: ${n}`);
}

/** `a.ts:10-16 = b.ts:40-46` for every block of `minLines`+ lines jscpd finds repeated under `folders`. */
async function repeatedBlocks(folders: string[], minLines: number, baseDir: string): Promise<string[]> {
  const clones = await detectClones({
    path: folders,
    minLines,
    format: [...STRUCTURE.duplicateFormats],
    ignore: [...STRUCTURE.ignore],
    silent: true,
    absolute: true,
    reporters: [],
  });
  const at = (d: { sourceId: string; start: { line: number }; end: { line: number } }) =>
    `${relative(baseDir, d.sourceId)}:${d.start.line}-${d.end.line}`;
  return clones.map((c) => `${at(c.duplicationA)} = ${at(c.duplicationB)}`).sort();
}

/** A scratch folder with the given files (`name → text`). */
function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "backstop-structure-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe("the checks can fail", () => {
  it("madge reports a cycle through .js specifiers of .ts files", async () => {
    const dir = scratch({
      "a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
      "b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
      "c.ts": 'import { a } from "./a.js";\nexport const c = a;\n',
    });
    expect(await importCycles([dir], dir)).toEqual([["a.ts", "b.ts"]]);
  });

  it("the length check counts lines and skips node_modules", () => {
    const dir = scratch({
      "long.ts": "x;\n".repeat(401),
      "ok.ts": "x;\n".repeat(400),
      "node_modules/dep/huge.js": "x;\n".repeat(1000),
    });
    expect(longFiles([dir], 400, dir)).toEqual(["long.ts: 401"]);
  });

  it("jscpd reports a repeated block of six lines", async () => {
    const body = Array.from({ length: 8 }, (_, i) => `  total += values[${i}] * weights[${i}] + offset;`);
    const fn = (name: string) =>
      `export function ${name}(values: number[], weights: number[], offset: number): number {\n  let total = 0;\n${body.join("\n")}\n  return total;\n}\n`;
    const dir = scratch({
      "one.ts": fn("first"),
      "two.ts": fn("second"),
      "three.ts": "export const z = 1;\n",
    });
    const found = await repeatedBlocks([dir], 6, dir);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((f) => /^(one|two)\.ts:\d+-\d+ = (one|two)\.ts:\d+-\d+$/.test(f))).toBe(true);
  });
});

describe("the code's structure", () => {
  it(`no import cycle among ${STRUCTURE.cycleFolders.join(", ")}`, async () => {
    const folders = STRUCTURE.cycleFolders.map((f) => resolveInPackage(f));
    const cycles = await importCycles(folders, root);
    expect(cycles.map((c) => c.join(" > "))).toEqual([]);
  }, 120_000);

  it(`no source file over ${STRUCTURE.maxLines} lines`, () => {
    const folders = STRUCTURE.lengthFolders.map((f) => resolveInPackage(f));
    expect(longFiles(folders, STRUCTURE.maxLines, root)).toEqual([]);
  });

  it(`no block of ${STRUCTURE.minDuplicateLines} or more repeated lines outside test/`, async () => {
    const folders = STRUCTURE.duplicateFolders.map((f) => resolveInPackage(f));
    expect(await repeatedBlocks(folders, STRUCTURE.minDuplicateLines, root)).toEqual([]);
  }, 120_000);
});
