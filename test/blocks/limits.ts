import type { KnownBlock } from "@slack/types";
import { expect } from "vitest";
import type { SlackMessage } from "../../blocks/index.js";

/** Every text in a block, flattened (for "contains" assertions). */
export function allText(msg: SlackMessage): string {
  return JSON.stringify(msg.blocks);
}

/** Asserts Slack's documented Block Kit limits on a message (https://api.slack.com/reference/block-kit/blocks). */
export function expectWithinLimits(msg: SlackMessage): void {
  expect(typeof msg.text).toBe("string");
  expect(msg.text.length).toBeGreaterThan(0);
  expect(msg.text.length).toBeLessThanOrEqual(3000);
  expect(msg.blocks.length).toBeGreaterThan(0);
  expect(msg.blocks.length).toBeLessThanOrEqual(50);
  for (const b of msg.blocks as KnownBlock[]) {
    if (b.type === "header") {
      expect(b.text.type).toBe("plain_text");
      expect(b.text.text.length).toBeLessThanOrEqual(150);
    }
    if (b.type === "section") {
      expect(b.text !== undefined || b.fields !== undefined).toBe(true);
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
      if (b.fields) {
        expect(b.fields.length).toBeLessThanOrEqual(10);
        for (const f of b.fields) expect(f.text.length).toBeLessThanOrEqual(2000);
      }
      if (b.accessory?.type === "button") {
        expect(b.accessory.text.text.length).toBeLessThanOrEqual(75);
        expect((b.accessory.value ?? "").length).toBeLessThanOrEqual(2000);
      }
    }
    if (b.type === "context") {
      expect(b.elements.length).toBeLessThanOrEqual(10);
      for (const e of b.elements) if ("text" in e) expect(e.text.length).toBeLessThanOrEqual(3000);
    }
    if (b.type === "actions") {
      expect(b.elements.length).toBeLessThanOrEqual(25);
      for (const e of b.elements) {
        if (e.type !== "button") continue;
        expect(e.text.text.length).toBeLessThanOrEqual(75);
        expect((e.value ?? "").length).toBeLessThanOrEqual(2000);
      }
    }
  }
}
