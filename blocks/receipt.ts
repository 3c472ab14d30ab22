import { ACTION_RECEIPT } from "./escalation.js";
import { button, code, context, escapeText, message, type SlackMessage, section } from "./text.js";

/**
 * The receipt line posted when a run finishes: a section with the head hash (the last event's SHA-256,
 * 64 hex) and a "Download receipt" button (`backstop_receipt`, `value: runId`) whose click uploads the
 * signed receipt JSON into the thread; a context line with the signing key id (left out when `keyId` is empty) and the run id.
 */
export function receiptMessage(r: {
  runId: string;
  headHash: string;
  events: number;
  keyId: string;
}): SlackMessage {
  const block = section(
    `:receipt: *Receipt* — ${r.events} events, hash-chained and signed (Ed25519)\nHead hash ${code(r.headHash.slice(0, 128))}`,
  );
  block.accessory = button({ text: "Download receipt", actionId: ACTION_RECEIPT, value: r.runId });
  return message(`Receipt for run ${escapeText(r.runId)}: head ${escapeText(r.headHash.slice(0, 64))}`, [
    block,
    context(
      `${r.keyId ? `Key ${code(r.keyId.slice(0, 64))} · ` : ""}run ${code(r.runId.slice(0, 200))} · verify with \`backstop verify\``,
    ),
  ]);
}
