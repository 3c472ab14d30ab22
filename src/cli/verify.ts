import type { Command } from "commander";
import { verifyReceiptFile } from "../receipt/index.js";

/**
 * `backstop verify FILE`: exits 0 on an intact receipt (every hash link, the head hash, the Ed25519
 * signature) and 1 naming the first bad event otherwise.
 */
export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("verify a receipt's hash chain and signature")
    .argument("<file>", "receipt JSON file")
    .option("--public-key <pem>", "only trust this Ed25519 public key (PEM text or file)")
    .action((file: string, opts: { publicKey?: string }) => {
      const result = verifyReceiptFile(
        file,
        opts.publicKey ? { trustedPublicKeys: [opts.publicKey] } : undefined,
      );
      if (result.ok) {
        console.log(`ok: ${result.events} events, head ${result.head_hash}, signed by key ${result.key_id}`);
        return;
      }
      console.error(`FAILED${result.seq === null ? "" : ` at event seq ${result.seq}`}: ${result.reason}`);
      process.exitCode = 1;
    });
}
