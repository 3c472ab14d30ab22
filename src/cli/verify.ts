import type { Command } from "commander";
import { loadConfig } from "../config.js";
import { errorMessage } from "../errors.js";
import { loadSigningKey, verifyReceiptFile } from "../receipt/index.js";

/**
 * `backstop verify FILE`: exits 0 on an intact receipt (every hash link, the head hash, the Ed25519
 * signature) and 1 naming the first bad event otherwise. The signature must be by a trusted key:
 * `--public-key` (PEM text, a PEM file or a key id), else this installation's receipt key
 * (`BACKSTOP_RECEIPT_KEY[_FILE]` or the development key) — a receipt re-signed with another key fails.
 * `--any-key` accepts the key the receipt carries (integrity only, no origin).
 */
export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("verify a receipt's hash chain and signature")
    .argument("<file>", "receipt JSON file")
    .option("--public-key <pem>", "only trust this Ed25519 public key (PEM text, PEM file or key id)")
    .option("--any-key", "trust the key the receipt carries (checks integrity, not who signed it)")
    .action((file: string, opts: { publicKey?: string; anyKey?: boolean }) => {
      let trusted: string[] | undefined;
      if (opts.publicKey) trusted = [opts.publicKey];
      else if (!opts.anyKey) {
        const config = loadConfig();
        try {
          const key = loadSigningKey({
            ...(config.receipts.keyPem ? { pem: config.receipts.keyPem } : {}),
            ...(config.receipts.keyFile ? { path: config.receipts.keyFile } : {}),
            create: false,
          });
          trusted = [key.publicKeyPem];
        } catch (err) {
          console.error(
            `backstop: no receipt key to trust here (${errorMessage(err)}); pass --public-key, or --any-key to check integrity only`,
          );
          process.exitCode = 1;
          return;
        }
      }
      const result = verifyReceiptFile(file, trusted ? { trustedPublicKeys: trusted } : undefined);
      if (result.ok) {
        console.log(`ok: ${result.events} events, head ${result.head_hash}, signed by key ${result.key_id}`);
        return;
      }
      console.error(`FAILED${result.seq === null ? "" : ` at event seq ${result.seq}`}: ${result.reason}`);
      process.exitCode = 1;
    });
}
