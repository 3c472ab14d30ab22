import type { WebClient } from "@slack/web-api";
import { z } from "zod";
import { type Receipt, ReceiptSchema } from "../receipt/index.js";
import type { ListenerContext } from "./context.js";
import { uploadReceipt } from "./receipt-upload.js";

/**
 * A stored receipt back into Slack: the run id a command or a button names, the stored receipt
 * parsed, and its upload into the incident's thread. Shared by `/backstop receipt` (commands/) and
 * the "Download receipt" button (actions/).
 */

/** A run id as `runIdFor` makes it: `run-` and `[A-Za-z0-9._-]`, at most 200 characters. */
export const RunIdSchema = z
  .string()
  .regex(/^run-[A-Za-z0-9._-]{1,196}$/, "expected a run id such as run-am-0123abcd… (see /backstop status)");

/**
 * Parses a stored receipt (the exact bytes of `serializeReceipt`) back into a `Receipt`. Re-serializing
 * it yields the same bytes (RFC 8785 canonical JSON), so the upload verifies.
 * @throws Error when the stored text is not a receipt.
 */
export function parseStoredReceipt(text: string): Receipt {
  return ReceiptSchema.parse(JSON.parse(text)) as Receipt;
}

/**
 * Uploads run `runId`'s stored receipt into its incident's thread (or `fallbackChannel` when the
 * incident has no thread yet). Returns what happened as a user-facing line.
 */
export async function uploadStoredReceipt(
  ctx: Pick<ListenerContext, "store">,
  client: WebClient,
  runId: string,
  where: { channel: string; threadTs: string | null },
): Promise<{ ok: boolean; text: string }> {
  const text = await ctx.store.getReceipt(runId);
  if (!text) return { ok: false, text: `No receipt is stored for run ${runId} (it may still be running).` };
  const incident = await ctx.store.getIncidentByRun(runId);
  const thread = incident ? await ctx.store.getThread(incident.key) : null;
  const channel = thread?.channel ?? where.channel;
  const threadTs = thread?.ts ?? where.threadTs;
  await uploadReceipt(client, { channel, threadTs, receipt: parseStoredReceipt(text) });
  return { ok: true, text: `Uploaded the signed receipt of ${runId} into its thread.` };
}
