import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveInPackage } from "../../paths.js";

/** The redactor's own code: `redact.ts` (or `.js`) and every module in `redact/`. */
function detectorFiles(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const isModule = (f: string) => /\.(?:ts|js)$/.test(f) && !f.endsWith(".d.ts");
  const entry = readdirSync(dirname(here)).filter((f) => /^redact\.(?:ts|js)$/.test(f));
  return [
    ...entry.map((f) => join(dirname(here), f)),
    ...readdirSync(here)
      .filter(isModule)
      .sort()
      .map((f) => join(here, f)),
  ];
}

/** The detector libraries as package.json pins them (secretlint, libphonenumber-js, ibantools). */
function detectorLibraries(): string {
  const pkg = JSON.parse(readFileSync(resolveInPackage("package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  return Object.entries(pkg.dependencies ?? {})
    .filter(
      ([name]) => name.startsWith("@secretlint/") || name === "libphonenumber-js" || name === "ibantools",
    )
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, spec]) => `${name}@${spec}`)
    .join(",");
}

let memo: string | undefined;

/**
 * Names this build's redactor: `sha256:<hex>` over the source of its modules (`src/guardrails/redact.ts`
 * and `redact/*`, as built) and the detector libraries package.json pins. Two processes with the same
 * value run the same detectors, so a text one redacted gives the other nothing to find: mcp-infra puts
 * it on `sanitized.redactor`, and the pipeline skips its second pass over signals that carry its own
 * value (any other value, or none, is redacted again). Computed on the first call (reads ~10 files) and
 * remembered for the rest of the process, so importing the redactor costs nothing until it is needed.
 * @throws the file system's error when the redactor's modules or package.json cannot be read.
 */
export function redactorVersion(): string {
  if (memo === undefined) {
    const h = createHash("sha256");
    for (const f of detectorFiles()) h.update(readFileSync(f)).update("\0");
    h.update(detectorLibraries());
    memo = `sha256:${h.digest("hex")}`;
  }
  return memo;
}
