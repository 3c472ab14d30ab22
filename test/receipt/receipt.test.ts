import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/contracts/events.js";
import { isBackstopError } from "../../src/errors.js";
import { packageRoot } from "../../src/paths.js";
import {
  defaultKeyPath,
  GENESIS_HASH,
  hashEvent,
  loadSigningKey,
  type Receipt,
  ReceiptRecorder,
  type SigningKey,
  serializeReceipt,
  signReceipt,
  verifyReceipt,
  verifyReceiptFile,
  verifyReceiptText,
  writeReceiptFile,
} from "../../src/receipt/index.js";

let dir: string;
let key: SigningKey;
let otherKey: SigningKey;

function fixedClock(): () => Date {
  let t = Date.parse("2025-03-01T10:00:00.000Z");
  return () => {
    t += 1500;
    return new Date(t);
  };
}

function sampleRun(runId = "run-42"): ReceiptRecorder {
  const rec = new ReceiptRecorder({ runId, clock: fixedClock() });
  rec.append("run.started", {
    run_id: runId,
    agent: "backstop",
    trigger: "alert",
    namespace: "shop",
    workload: "checkout",
    alertname: "HighErrorRate",
    scenario: null,
    note: 'café ☕ \u001b[31m "quoted" \\ back',
  });
  rec.append("redaction.applied", { counts: { AWSAccessKeyID: 1, Email: 2 }, total: 3 });
  rec.append("model.call", {
    purpose: "diagnose",
    target: "primary",
    model: "gpt-4o-mini",
    served_model: "gpt-4o-mini",
    tier: 0,
    attempt: 1,
    ok: true,
    status: 200,
    error: null,
    latency_ms: 812,
    tokens: { input: 1200, output: 210 },
    cost_usd: 0.00031,
    prompt: { name: "diagnosis", version: "3", sha256: "a".repeat(64) },
  });
  rec.append("gate.action", {
    passed: true,
    action: { type: "rollback", namespace: "shop", kind: "Deployment", name: "checkout", to_sha: "9f8e7d" },
    rules: [{ rule: "sha_in_history", passed: true, detail: "9f8e7d is revision 3" }],
  });
  rec.append("run.finished", {
    outcome: "resolved",
    summary: "rolled back",
    wall_ms: 4200,
    cost_usd: 0.00031,
    tokens: { input: 1200, output: 210 },
  });
  return rec;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "backstop-receipt-"));
  key = loadSigningKey({ path: join(dir, "keys", "k.pem"), create: true });
  otherKey = loadSigningKey({ path: join(dir, "keys", "other.pem"), create: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ReceiptRecorder", () => {
  it("chains events from 64 zeros with seq, ISO time and the canonical hash", () => {
    const rec = sampleRun();
    const events = rec.events();
    expect(events).toHaveLength(5);
    expect(events[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(events[0]!.at).toBe("2025-03-01T10:00:01.500Z");
    events.forEach((e, i) => {
      expect(e.seq).toBe(i);
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(hashEvent(e)).toBe(e.hash);
      if (i > 0) expect(e.prev_hash).toBe(events[i - 1]!.hash);
    });
    expect(rec.headHash()).toBe(events[4]!.hash);
  });

  it("hash does not depend on key order (RFC 8785)", () => {
    const a = new ReceiptRecorder({ runId: "r", clock: () => new Date(0) });
    const b = new ReceiptRecorder({ runId: "r", clock: () => new Date(0) });
    a.append("redaction.applied", { counts: { A: 1, B: 2 }, total: 3 });
    b.append("redaction.applied", { total: 3, counts: { B: 2, A: 1 } });
    expect(a.headHash()).toBe(b.headHash());
  });

  it("append hashes exactly the canonical text hashEvent hashes, for awkward data and durations", () => {
    const awkward: unknown[] = [
      {},
      { é: 1, e: 2, "\u{1F600}": 3, "\uFFFF": 4, Z: 5, a: [] },
      { n: [0, -0, 0.1, 1e21, 1e-7, 5e-324, -1.7976931348623157e308, 2 ** 53] },
      { s: 'quote " backslash \\ tab \t nl \n ctrl \u0001 del \u007f line-sep \u2028 lone \uD800 emoji 😀' },
      { nested: { b: { d: null, c: true }, a: [{ y: 1, x: 2 }, "z", false] }, skip: undefined },
      { toJSON: () => ({ b: 1, a: 2 }) },
    ];
    const rec = new ReceiptRecorder({ runId: "r", clock: () => new Date(Date.UTC(2030, 0, 1)) });
    for (const [i, data] of awkward.entries()) {
      for (const duration of [undefined, 0, 1.5, 12345, 1e21]) {
        const e = rec.append("redaction.applied", data as never, duration);
        expect(hashEvent(e), `data ${i}, duration ${duration}`).toBe(e.hash);
      }
    }
    expect(() => ReceiptRecorder.resume({ runId: "r", events: rec.events() })).not.toThrow();
  });

  it("copies and freezes data so later mutation cannot change the receipt", () => {
    const rec = new ReceiptRecorder({ runId: "r" });
    const data = { counts: { Email: 1 }, total: 1 };
    const e = rec.append("redaction.applied", data);
    data.counts.Email = 99;
    expect(e.data.counts.Email).toBe(1);
    expect(() => {
      (e.data.counts as Record<string, number>).Email = 5;
    }).toThrow();
    expect(hashEvent(e)).toBe(e.hash);
  });

  it("rejects unknown types, non-JSON data and an empty run id", () => {
    const rec = new ReceiptRecorder({ runId: "r" });
    expect(() => rec.append("nope" as "run.finished", {} as never)).toThrow(/unknown run event type/);
    expect(() => rec.append("redaction.applied", { counts: {}, total: Number.NaN })).toThrow(
      expect.objectContaining({ code: "receipt.canonical" }),
    );
    expect(() => new ReceiptRecorder({ runId: "" })).toThrow(
      expect.objectContaining({ code: "receipt.run_id" }),
    );
    expect(rec.events()).toHaveLength(0);
    expect(rec.headHash()).toBe(GENESIS_HASH);
  });
});

describe("signReceipt / verifyReceipt", () => {
  it("a fresh receipt verifies, also through a file and with a pinned key", () => {
    const rec = sampleRun();
    const receipt = signReceipt("run-42", rec.events(), key);
    expect(receipt.head_hash).toBe(rec.headHash());
    expect(receipt.signature.key_id).toBe(key.keyId);
    expect(receipt.signature.public_key).toContain("BEGIN PUBLIC KEY");
    expect(verifyReceipt(receipt)).toEqual({
      ok: true,
      events: 5,
      head_hash: rec.headHash(),
      key_id: key.keyId,
    });
    const file = join(dir, "r.json");
    writeReceiptFile(file, receipt);
    expect(verifyReceiptFile(file)).toMatchObject({ ok: true, events: 5 });
    expect(verifyReceiptFile(file, { trustedPublicKeys: [key.publicKeyPem] }).ok).toBe(true);
    expect(verifyReceiptFile(file, { trustedPublicKeys: [key.keyId] }).ok).toBe(true);
    const pemFile = join(dir, "pub.pem");
    writeFileSync(pemFile, key.publicKeyPem);
    expect(verifyReceiptFile(file, { trustedPublicKeys: [pemFile] }).ok).toBe(true);
  });

  it("refuses to sign an empty or broken chain", () => {
    expect(() => signReceipt("r", [], key)).toThrow(expect.objectContaining({ code: "receipt.empty" }));
    const events = sampleRun()
      .events()
      .map((e) => ({ ...e })) as RunEvent[];
    events[2] = { ...events[2]!, at: "2030-01-01T00:00:00.000Z" };
    expect(() => signReceipt("r", events, key)).toThrow(expect.objectContaining({ code: "receipt.chain" }));
  });

  const base = (): Receipt =>
    JSON.parse(JSON.stringify(signReceipt("run-42", sampleRun().events(), key))) as Receipt;

  it("names the first altered event when data changes", () => {
    const r = base();
    (r.events[2]!.data as { cost_usd: number }).cost_usd = 0;
    expect(verifyReceipt(r)).toEqual({ ok: false, seq: 2, reason: expect.stringMatching(/hash mismatch/) });
  });

  it("catches a recomputed hash on a changed event at the next link", () => {
    const r = base();
    const e = r.events[1]!;
    (e.data as { total: number }).total = 0;
    e.hash = hashEvent(e);
    expect(verifyReceipt(r)).toMatchObject({ ok: false, seq: 2, reason: expect.stringMatching(/prev_hash/) });
  });

  it("catches reordered, removed and inserted events", () => {
    const swapped = base();
    [swapped.events[1], swapped.events[2]] = [swapped.events[2]!, swapped.events[1]!];
    expect(verifyReceipt(swapped)).toMatchObject({ ok: false, seq: 1 });

    const removed = base();
    removed.events.splice(2, 1);
    expect(verifyReceipt(removed)).toMatchObject({ ok: false, seq: 2 });

    const inserted = base();
    inserted.events.splice(1, 0, { ...inserted.events[1]! });
    expect(verifyReceipt(inserted)).toMatchObject({ ok: false, seq: 2 });
  });

  it("catches truncation and a changed head", () => {
    const truncated = base();
    truncated.events.pop();
    expect(verifyReceipt(truncated)).toMatchObject({
      ok: false,
      seq: null,
      reason: expect.stringMatching(/head_hash/),
    });

    // Truncated with a matching head: the signature no longer covers it.
    const rehead = base();
    rehead.events.pop();
    rehead.head_hash = rehead.events[rehead.events.length - 1]!.hash;
    expect(verifyReceipt(rehead)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
  });

  it("catches a changed signature, run id, signing time or key id", () => {
    const sig = base();
    const bytes = Buffer.from(sig.signature.value, "base64");
    bytes[10] = bytes[10]! ^ 1;
    sig.signature.value = bytes.toString("base64");
    expect(verifyReceipt(sig)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/signature does not verify/),
    });

    const runId = base();
    runId.run_id = "run-43";
    expect(verifyReceipt(runId)).toMatchObject({ ok: false, seq: 0 });

    const signedAt = base();
    signedAt.signed_at = "2025-03-01T10:00:00.000Z";
    expect(verifyReceipt(signedAt).ok).toBe(false);

    const keyId = base();
    keyId.signature.key_id = otherKey.keyId;
    expect(verifyReceipt(keyId)).toMatchObject({ ok: false, reason: expect.stringMatching(/key_id/) });
  });

  it("catches a swapped public key, and pins the signer with trustedPublicKeys", () => {
    const swapped = base();
    swapped.signature.public_key = otherKey.publicKeyPem;
    swapped.signature.key_id = otherKey.keyId;
    expect(verifyReceipt(swapped)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });

    // A forger re-signs everything with their own key: only pinning catches it.
    const forged = signReceipt("run-42", sampleRun().events(), otherKey);
    expect(verifyReceipt(forged).ok).toBe(true);
    expect(verifyReceipt(forged, { trustedPublicKeys: [key.publicKeyPem] })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/untrusted key/),
    });
    expect(verifyReceipt(forged, { trustedPublicKeys: ["not a key"] })).toMatchObject({ ok: false });
  });

  it("rejects bad shapes without throwing", () => {
    for (const bad of [
      null,
      42,
      "x",
      [],
      {},
      { ...base(), format: "v2" },
      { ...base(), events: [] },
      { ...base(), extra: 1 },
    ]) {
      expect(verifyReceipt(bad).ok).toBe(false);
    }
    const upper = base();
    upper.events[3]!.hash = upper.events[3]!.hash.toUpperCase();
    expect(verifyReceipt(upper)).toMatchObject({ ok: false, seq: 3 });
  });
});

describe("receipt file: flipping any single byte fails verification", () => {
  it("every position, several bit flips, plus all byte values at sampled positions", () => {
    const receipt = signReceipt("run-42", sampleRun().events(), key);
    const bytes = Buffer.from(serializeReceipt(receipt), "utf8");
    expect(verifyReceiptText(bytes.toString("utf8")).ok).toBe(true);
    const decoder = new TextDecoder("utf-8", { fatal: true });
    const check = (pos: number, value: number): void => {
      const copy = Buffer.from(bytes);
      copy[pos] = value;
      let text: string;
      try {
        text = decoder.decode(copy);
      } catch {
        return; // invalid UTF-8: verifyReceiptFile refuses it (tested below)
      }
      const result = verifyReceiptText(text);
      if (result.ok) throw new Error(`byte ${pos} set to 0x${value.toString(16)} still verifies`);
    };
    let tried = 0;
    for (let pos = 0; pos < bytes.length; pos++) {
      for (const mask of [0x01, 0x02, 0x04, 0x08, 0x20, 0x40]) {
        check(pos, bytes[pos]! ^ mask);
        tried++;
      }
    }
    // Every other byte value at a deterministic sample of positions, the final newline and an escape.
    const sample = new Set<number>([bytes.length - 1, bytes.indexOf("\\u001b") + 5]);
    for (let pos = 0; pos < bytes.length; pos += 97) sample.add(pos);
    for (const pos of sample) {
      for (let v = 0; v < 256; v++) {
        if (v !== bytes[pos]) {
          check(pos, v);
          tried++;
        }
      }
    }
    expect(tried).toBeGreaterThan(bytes.length * 6);
  });

  it("a data byte flip in the file names the event", () => {
    const receipt = signReceipt("run-42", sampleRun().events(), key);
    const file = join(dir, "flip.json");
    const text = serializeReceipt(receipt).replace('"latency_ms":812', '"latency_ms":813');
    writeFileSync(file, text);
    expect(verifyReceiptFile(file)).toMatchObject({ ok: false, seq: 2 });
  });

  it("non-canonical, non-JSON, invalid UTF-8 and missing files fail with seq null", () => {
    const receipt = signReceipt("run-42", sampleRun().events(), key);
    const pretty = JSON.stringify(receipt, null, 2);
    expect(verifyReceiptText(pretty)).toMatchObject({
      ok: false,
      seq: null,
      reason: expect.stringMatching(/canonical/),
    });
    expect(verifyReceiptText(pretty, { requireCanonical: false }).ok).toBe(true);
    const file = join(dir, "bad.json");
    writeFileSync(file, serializeReceipt(receipt).slice(0, 200));
    expect(verifyReceiptFile(file)).toMatchObject({
      ok: false,
      seq: null,
      reason: expect.stringMatching(/not valid JSON/),
    });
    const raw = Buffer.from(serializeReceipt(receipt));
    raw[raw.indexOf("caf") + 3] = 0xff;
    writeFileSync(file, raw);
    expect(verifyReceiptFile(file)).toMatchObject({ ok: false, seq: null });
    expect(verifyReceiptFile(join(dir, "missing.json"))).toMatchObject({ ok: false, seq: null });
  });
});

describe("loadSigningKey", () => {
  it("creates the dev key once with mode 0600 outside the repo, then reuses it", () => {
    const path = join(dir, "cfg", "backstop", "receipt-ed25519.pem");
    const first = loadSigningKey({ path, create: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "cfg", "backstop")).mode & 0o777).toBe(0o700);
    const again = loadSigningKey({ path, create: true });
    expect(again.keyId).toBe(first.keyId);
    expect(loadSigningKey({ pem: readFileSync(path, "utf8") }).keyId).toBe(first.keyId);
    expect(first.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it("defaults to ~/.config/backstop, outside the work tree", () => {
    expect(defaultKeyPath()).toMatch(/\.config\/backstop\/receipt-ed25519\.pem$/);
    expect(relative(packageRoot, defaultKeyPath()).startsWith("..")).toBe(true);
  });

  it("refuses to create a key inside the work tree", () => {
    const path = join(packageRoot, "receipt-key-should-not-exist.pem");
    expect(() => loadSigningKey({ path, create: true })).toThrow(/inside the work tree/);
  });

  it("throws receipt.key on a missing, invalid or non-Ed25519 key, without echoing the PEM", () => {
    expect(() => loadSigningKey({ path: join(dir, "none.pem") })).toThrow(
      expect.objectContaining({ code: "receipt.key" }),
    );
    const garbage = "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n";
    try {
      loadSigningKey({ pem: garbage });
      expect.unreachable();
    } catch (err) {
      expect(isBackstopError(err, "receipt.key")).toBe(true);
      expect((err as Error).message).not.toContain("SECRETSECRET");
    }
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    expect(() => loadSigningKey({ pem: rsa.toString() })).toThrow(/must be Ed25519/);
    const file = join(dir, "garbage.pem");
    writeFileSync(file, "nope", { mode: 0o600 });
    expect(() => loadSigningKey({ path: file })).toThrow(expect.objectContaining({ code: "receipt.key" }));
  });
});
