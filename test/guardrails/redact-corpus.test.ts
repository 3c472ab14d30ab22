import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { redactText } from "../../src/guardrails/redact.js";
import { resolveInPackage } from "../../src/paths.js";
import { type CorpusRecord, generateCorpus } from "../fixtures/redaction/generate.js";
import { leaks, score } from "../fixtures/redaction/judge.js";

/**
 * The redactor on the synthetic corpus (test/fixtures/redaction), judged against the planted literals
 * only: a secret/PII record passes when no 12-character window of its planted value survives; a clean
 * line must come out unchanged. Targets per kind (issue 8): secrets ≥ 99 %, PII ≥ 97 %, clean 100 %.
 */
const committed = readFileSync(resolveInPackage("test", "fixtures", "redaction", "corpus.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l) as CorpusRecord);

async function check(records: CorpusRecord[]): Promise<void> {
  const outputs: string[] = [];
  for (const r of records) outputs.push((await redactText(r.line)).value);
  const failures: string[] = [];
  for (const s of score(records, outputs).values()) {
    const rate = s.passed / s.total;
    const target = s.category === "secret" ? 0.99 : s.category === "pii" ? 0.97 : 1;
    if (rate < target) {
      // Name the kind and the record index only: the planted values are fake, but stay out of logs anyway.
      failures.push(`${s.kind}: ${s.passed}/${s.total} (records ${s.failures.slice(0, 5).join(", ")})`);
    }
  }
  expect(failures).toEqual([]);
  // Idempotent: redacting the redacted text changes nothing.
  for (const out of outputs) expect((await redactText(out)).value).toBe(out);
}

describe("redaction corpus", () => {
  it("the committed corpus is the generator's output for seed 8 (regenerate with the generator when it changes)", () => {
    expect(generateCorpus(8, 40)).toEqual(committed);
  });

  it("has every category and format it claims, with planted values in the lines", () => {
    const kinds = new Set(committed.map((r) => r.kind));
    for (const k of [
      "gcp-api-key",
      "azure-sas-signature",
      "vault-token",
      "datadog-api-key",
      "k8s-secret-data",
      "docker-config-auth",
      "phone-e164",
      "iban",
      "person-name",
    ])
      expect(kinds).toContain(k);
    for (const r of committed) {
      if (r.category === "clean") expect(r.secret).toBeUndefined();
      else expect(leaks(r.secret!, r.line)).toBe(true);
    }
    expect(committed.filter((r) => r.category === "clean").length).toBeGreaterThanOrEqual(400);
  });

  it("meets the recall targets with 0 clean lines changed on the committed corpus (seed 8)", async () => {
    await check(committed);
  });

  it("meets them on a second corpus from another seed (no tuning to one seed)", async () => {
    await check(generateCorpus(20261130, 40));
  });
});
