import { generateKeyPairSync } from "node:crypto";
import type { Scenario } from "../../scenarios/schema.js";
import { loadWorld } from "../fixtures/worlds.js";

/** A database credential and an email the crashing revision logs (the redaction guardrail's input). */
export const SECRET_DSN = "postgres://checkout:S3cr3tP4ss@prod-db.data.svc:5432/orders";
export const EMAIL = "maria.gonzalez@example.com";

const longLine = (i: number) => `line ${i} ${"x".repeat(400)}`;

/**
 * A throwaway RSA key generated for this test run (never used for anything), so the secret scanner's
 * PEM parser recognises it; the leaky workload prints it over many lines, 48 lines before its tail.
 */
export const PEM_KEY = generateKeyPairSync("rsa", { modulusLength: 1024 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString()
  .trim();
/** A GitHub-format token (random) that starts at character 290 of a log line, so a cut at 300 splits it. */
export const TOKEN_AT_END = "ghp_Wq2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz9Xc2Vb5";
export const LONG_TOKEN_LINE = `${"request dump ".repeat(21)}${"y".repeat(4)} token=${TOKEN_AT_END}`;
/** An AWS access key id split by a zero-width space (no detector sees it until the space is stripped). */
export const SPLIT_KEY = "AKIAQ7TX2WZ5LMN8KPRB";
export const SPLIT_KEY_LINE = `s3 access_key_id=${SPLIT_KEY.slice(0, 8)}\u200b${SPLIT_KEY.slice(8)} \u202eevil\u202c`;

/**
 * The `signals` test world (test/fixtures/worlds/signals.yaml) with its generated crash logs:
 * shop/checkout's bad revision 9f3e1c2 logs `SECRET_DSN` and `EMAIL`; shop/bulk's bad revision logs 80
 * lines of 400+ characters; shop/leaky logs `PEM_KEY` over many lines (48 lines before its tail), then
 * `LONG_TOKEN_LINE` and `SPLIT_KEY_LINE`.
 */
export function signalsWorld(): Scenario {
  return loadWorld("signals", {
    logs: {
      "shop/checkout@9f3e1c2": [
        "checkout 3.18.0 (9f3e1c2) starting",
        `config loaded database=${SECRET_DSN}`,
        `POST /api/v1/checkout customer=${EMAIL}`,
        "TypeError: Cannot read properties of undefined (reading 'currency')",
      ],
      "shop/bulk@bbad999": Array.from({ length: 80 }, (_, i) => longLine(i)),
      "shop/leaky@1eaf001": [
        ...PEM_KEY.split("\n"),
        ...Array.from({ length: 46 }, (_, i) => `worker ${i} idle`),
        LONG_TOKEN_LINE,
        SPLIT_KEY_LINE,
      ],
    },
  });
}
