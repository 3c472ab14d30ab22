import type { WebClient } from "@slack/web-api";
import { z } from "zod";
import { BackstopError, errorMessage, formatZodIssues } from "../errors.js";
import { childLogger } from "../log.js";
import { type Receipt, serializeReceipt } from "../receipt/index.js";

const log = childLogger("slack-receipt");

const OptsSchema = z.object({
  channel: z.string().regex(/^[CGD][A-Z0-9]+$/, "expected a Slack channel id (C…, G… or D…)"),
  threadTs: z
    .string()
    .regex(/^\d+\.\d+$/, "expected a Slack message ts such as 1763731200.000100")
    .nullable(),
  receipt: z
    .object({ run_id: z.string().min(1), head_hash: z.string(), events: z.array(z.unknown()) })
    .loose(),
});

/** The file name of a run's receipt in Slack: `backstop-receipt-<runId>.json` (unsafe characters → `_`). */
export function receiptFileName(runId: string): string {
  return `backstop-receipt-${runId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200)}.json`;
}

/**
 * Uploads a signed receipt into a channel or thread with `files.uploadV2` (the three calls
 * `files.getUploadURLExternal` → POST to the upload URL → `files.completeUploadExternal`; see
 * https://docs.slack.dev/messaging/working-with-files#uploading_files). The file's bytes are exactly
 * `serializeReceipt(receipt)` (RFC 8785 canonical JSON plus `\n`), so a downloaded copy passes
 * `backstop verify` unchanged. `threadTs` null uploads to the channel itself. Returns the Slack file id
 * (`F…`).
 * @throws BackstopError `slack.receipt_invalid` for a bad channel id, ts or receipt shape (zod);
 *   `slack.upload_failed` (with the Web API error as `cause`) when Slack refuses or cannot be reached.
 */
export async function uploadReceipt(
  client: WebClient,
  opts: { channel: string; threadTs: string | null; receipt: Receipt },
): Promise<{ fileId: string }> {
  const parsed = OptsSchema.safeParse(opts);
  if (!parsed.success) {
    throw new BackstopError(
      "slack.receipt_invalid",
      `cannot upload the receipt: ${formatZodIssues(parsed.error, { root: "(input)", limit: 1 })}`,
    );
  }
  const { receipt, channel, threadTs } = opts;
  const content = serializeReceipt(receipt);
  const events = receipt.events.length;
  try {
    const common = {
      filename: receiptFileName(receipt.run_id),
      title: `Backstop receipt ${receipt.run_id}`,
      content,
      snippet_type: "json",
      initial_comment: `:receipt: Signed receipt for run \`${receipt.run_id.replace(/[`&<>]/g, "_")}\`: ${events} events, head \`${receipt.head_hash.replace(/[`&<>]/g, "_")}\`. Check it with \`backstop verify &lt;file&gt;\`.`,
    };
    const res = threadTs
      ? await client.filesUploadV2({ ...common, channel_id: channel, thread_ts: threadTs })
      : await client.filesUploadV2({ ...common, channel_id: channel });
    const fileId = res.files.flatMap((c) => c.files ?? []).find((f) => typeof f.id === "string")?.id;
    if (!fileId) throw new Error("files.completeUploadExternal answered without a file id");
    log.info(
      { runId: receipt.run_id, fileId, channel, bytes: Buffer.byteLength(content) },
      "receipt uploaded",
    );
    return { fileId };
  } catch (err) {
    throw new BackstopError(
      "slack.upload_failed",
      `could not upload receipt ${receipt.run_id}: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}
