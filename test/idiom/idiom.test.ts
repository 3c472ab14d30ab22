import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import * as k8sNames from "../../src/contracts/k8s.js";
import { resolveInPackage } from "../../src/paths.js";

/**
 * Guards the house idiom (issue 12): errors are logged as `{ err }` (the logger's serializer keeps the
 * stack and cause), zod failures are formatted by `formatZodIssues`, Kubernetes label/annotation names
 * come from `src/contracts/k8s.ts`, JSON is compared through `canonicalize`.
 *
 * PENDING lists files other refactors still hold (each with the rules it still breaks). It may only
 * shrink: an entry whose file no longer breaks the rule fails the test, so fixing a file means
 * removing its entry.
 */
const PENDING: Record<string, Rule[]> = {};

type Rule = "log-err" | "zod-format" | "k8s-name" | "stable-stringify";

const ROOTS = ["src", "sandbox", "mcp-infra", "blocks", "scenarios", "bin"];
const K8S_VALUES: string[] = Object.values(k8sNames).filter((v) => typeof v === "string");

/** The rules a file's text breaks. */
function broken(path: string, text: string): Rule[] {
  const out: Rule[] = [];
  // A log call whose fields carry the message instead of the error: `{ err: errorMessage(x) }`,
  // `{ error: x.message }` and the like.
  const logCall = /\blog[A-Za-z]*\??\.(?:trace|debug|info|warn|error|fatal)\(\s*\{[^}]*\}/g;
  for (const m of text.matchAll(logCall)) {
    if (/\b(?:err|error)\s*:\s*(?:errorMessage\(|[\w.()]+\.message\b)/.test(m[0])) {
      out.push("log-err");
      break;
    }
  }
  if (/\.issues\s*\.map\(\s*\(?\s*(\w+)\s*\)?\s*=>\s*`[^`]*\$\{\s*\1\.path/.test(text))
    out.push("zod-format");
  if (path !== "src/contracts/k8s.ts" && K8S_VALUES.some((v) => text.includes(`"${v}"`)))
    out.push("k8s-name");
  if (/\bstableStringify\b/.test(text)) out.push("stable-stringify");
  return out;
}

function sources(dir: string, root: string, acc: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return acc;
  }
  for (const name of names) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, root, acc);
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) acc.push(relative(root, p));
  }
  return acc;
}

describe("the house idiom", () => {
  const root = resolveInPackage();
  const files = ROOTS.flatMap((r) => sources(join(root, r), root));

  it("finds the source files", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain("src/errors.ts");
  });

  it("no file logs an error's message instead of the error, formats zod issues by hand, or repeats a k8s name", () => {
    const found: Record<string, Rule[]> = {};
    for (const f of files) {
      const rules = broken(f, readFileSync(join(root, f), "utf8"));
      if (rules.length > 0) found[f] = rules;
    }
    const unexpected = Object.entries(found)
      .map(([f, rules]) => [f, rules.filter((r) => !(PENDING[f] ?? []).includes(r))] as const)
      .filter(([, rules]) => rules.length > 0);
    expect(Object.fromEntries(unexpected)).toEqual({});
    const stale = Object.entries(PENDING)
      .map(([f, rules]) => [f, rules.filter((r) => !(found[f] ?? []).includes(r))] as const)
      .filter(([, rules]) => rules.length > 0);
    expect(Object.fromEntries(stale), "PENDING entries already fixed: remove them").toEqual({});
  });

  it("the checks catch what they are for", () => {
    expect(broken("x.ts", `log.warn({ runId, err: errorMessage(err) }, "m")`)).toEqual(["log-err"]);
    expect(broken("x.ts", `this.log.error({ error: failure.message }, "m")`)).toEqual(["log-err"]);
    expect(broken("x.ts", `log.warn({ runId, err }, "m")`)).toEqual([]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a sample of source text, not a template
    expect(broken("x.ts", "e.issues.map((i) => `${i.path.join('.')}: ${i.message}`)")).toEqual([
      "zod-format",
    ]);
    expect(broken("x.ts", `const A = "backstop.dev/protected";`)).toEqual(["k8s-name"]);
    expect(broken("src/contracts/k8s.ts", `const A = "backstop.dev/protected";`)).toEqual([]);
    expect(broken("x.ts", "stableStringify(a)")).toEqual(["stable-stringify"]);
  });
});
