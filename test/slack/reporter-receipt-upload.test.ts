import { generateKeyPairSync } from "node:crypto";
import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import { isBackstopError } from "../../src/errors.js";
import {
  loadSigningKey,
  type Receipt,
  serializeReceipt,
  signReceipt,
  verifyReceiptText,
} from "../../src/receipt/index.js";
import { receiptFileName, uploadReceipt } from "../../src/slack/receipt-upload.js";
import { resolvedRun } from "../blocks/fixtures.js";

const TOKEN = "xoxb-test-receipt";
const CHANNEL = "C0INCIDENTS";
let sb: SandboxSlack;
let receipt: Receipt;
let client: WebClient;

beforeAll(async () => {
  sb = await startSandboxSlack({ botToken: TOKEN });
  client = new WebClient(TOKEN, { slackApiUrl: sb.apiUrl, retryConfig: { retries: 0 } });
  const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  // A run id with characters that need care in a file name, and events with non-ASCII and `<>&` text.
  receipt = signReceipt("run-7/ü", resolvedRun("run-7/ü"), loadSigningKey({ pem }));
});
afterAll(async () => {
  await sb.close();
});

describe("uploadReceipt", () => {
  it("uploads exactly serializeReceipt's bytes into the thread, and the download verifies", async () => {
    const root = await client.chat.postMessage({ channel: CHANNEL, text: "incident" });
    const { fileId } = await uploadReceipt(client, { channel: CHANNEL, threadTs: root.ts!, receipt });
    const file = sb.files().find((f) => f.id === fileId)!;
    expect(file).toBeDefined();
    expect(file.name).toBe("backstop-receipt-run-7__.json");
    expect(file.channel).toBe(CHANNEL);
    expect(file.thread_ts).toBe(root.ts);
    expect(file.bytes.equals(Buffer.from(serializeReceipt(receipt), "utf8"))).toBe(true);
    expect(verifyReceiptText(file.bytes.toString("utf8"))).toMatchObject({ ok: true, events: 13 });

    const downloaded = await (await fetch(`${sb.url}_sandbox/files/${fileId}`)).text();
    expect(verifyReceiptText(downloaded)).toMatchObject({ ok: true, head_hash: receipt.head_hash });

    const shared = sb.thread(CHANNEL, root.ts!).find((m) => m.files.some((f) => f.id === fileId));
    expect(shared?.text).toContain(receipt.head_hash);
  });

  it("uploads to the channel itself when there is no thread", async () => {
    const { fileId } = await uploadReceipt(client, { channel: CHANNEL, threadTs: null, receipt });
    expect(sb.files().find((f) => f.id === fileId)?.thread_ts).toBeNull();
  });

  it("refuses bad input before calling Slack", async () => {
    const before = sb.calls().length;
    for (const bad of [
      { channel: "#incidents", threadTs: null, receipt },
      { channel: CHANNEL, threadTs: "yesterday", receipt },
      { channel: CHANNEL, threadTs: null, receipt: { run_id: "" } as unknown as Receipt },
    ]) {
      const err = await uploadReceipt(client, bad).catch((e: unknown) => e);
      expect(isBackstopError(err, "slack.receipt_invalid")).toBe(true);
    }
    expect(sb.calls().length).toBe(before);
  });

  it("wraps a Slack refusal in slack.upload_failed with the Web API error as cause", async () => {
    const strict = await startSandboxSlack({ botToken: TOKEN, channels: [{ id: "C0OTHER", name: "other" }] });
    try {
      const c = new WebClient(TOKEN, { slackApiUrl: strict.apiUrl, retryConfig: { retries: 0 } });
      const err = await uploadReceipt(c, { channel: CHANNEL, threadTs: null, receipt }).catch(
        (e: unknown) => e,
      );
      expect(isBackstopError(err, "slack.upload_failed")).toBe(true);
      expect((err as Error).message).toContain("channel_not_found");
      expect((err as Error).cause).toBeDefined();
      expect(strict.files()).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });

  it("names files safely", () => {
    expect(receiptFileName("abc-123")).toBe("backstop-receipt-abc-123.json");
    expect(receiptFileName("../x y")).toBe("backstop-receipt-.._x_y.json");
  });
});
