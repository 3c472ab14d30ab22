import type {
  ActionsBlock,
  Button,
  ContextBlock,
  DividerBlock,
  HeaderBlock,
  KnownBlock,
  MrkdwnElement,
  PlainTextElement,
  SectionBlock,
} from "@slack/types";

/**
 * Text helpers shared by the Block Kit builders: escaping and Slack's documented size limits.
 *
 * Limits from https://api.slack.com/reference/block-kit/blocks and
 * https://api.slack.com/reference/block-kit/block-elements (lengths in UTF-16 code units, which is what
 * Slack counts): a message holds at most 50 blocks; a `header`'s plain_text at most 150 characters; a
 * `section`'s text at most 3000 and at most 10 `fields` of at most 2000 each; a `context` at most 10
 * elements; a button's text at most 75 and its value at most 2000.
 */
export const LIMITS = {
  blocks: 50,
  header: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  contextText: 3000,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** The top-level `text` fallback; Slack truncates beyond 40,000, we keep notifications short. */
  fallbackText: 3000,
} as const;

/** A Slack message body: the plain `text` fallback (notifications, accessibility) and its blocks. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/**
 * Escapes the three characters Slack's text parser treats as control characters: `&` → `&amp;`,
 * `<` → `&lt;`, `>` → `&gt;` (https://api.slack.com/reference/surfaces/formatting#escaping). Use it on
 * every string that comes from the cluster, a model, an alert or a user, so `<!channel>` or `<http://x|y>`
 * in a pod log can neither ping a channel nor forge a link.
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Cuts `text` to at most `max` UTF-16 code units, ending with `…` when cut. Never splits a surrogate pair
 * or an HTML entity (`&amp;`, `&lt;`, `&gt;`) left by {@link escapeText}. `max` must be ≥ 1.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - 1);
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  const amp = cut > 0 ? text.lastIndexOf("&", cut - 1) : -1;
  if (amp !== -1 && amp > cut - 5) {
    const entity = /^&(amp|lt|gt);/.exec(text.slice(amp, amp + 5));
    if (entity && amp + entity[0].length > cut) cut = amp;
  }
  return `${text.slice(0, cut)}…`;
}

/** Escapes then truncates: untrusted text made safe for a field of at most `max` characters. */
export function safe(text: string, max: number): string {
  return truncate(escapeText(text), max);
}

/**
 * Inline code for mrkdwn (`` `x` ``), escaped; backticks inside are replaced by `ˋ` (U+02CB) so the span
 * cannot be closed early by untrusted text.
 */
export function code(text: string): string {
  return `\`${escapeText(text.replace(/`/g, "ˋ"))}\``;
}

/** A `plain_text` object (emoji on) with the text cut to `max`. Text passed here must already be escaped. */
export function plain(text: string, max: number): PlainTextElement {
  return { type: "plain_text", text: truncate(text, max), emoji: true };
}

/** A `mrkdwn` text object cut to `max`. Text passed here must already be escaped. */
export function mrkdwn(text: string, max: number = LIMITS.sectionText): MrkdwnElement {
  return { type: "mrkdwn", text: truncate(text, max) };
}

/** A `header` block (plain_text, ≤ 150 characters). Pass escaped text. */
export function header(text: string): HeaderBlock {
  return { type: "header", text: plain(text, LIMITS.header) };
}

/** A `section` with mrkdwn text (≤ 3000) and optional fields (≤ 10, each ≤ 2000). Pass escaped text. */
export function section(text: string | null, fields: string[] = []): SectionBlock {
  const block: SectionBlock = { type: "section" };
  if (text !== null) block.text = mrkdwn(text, LIMITS.sectionText);
  if (fields.length > 0) {
    block.fields = fields.slice(0, LIMITS.fields).map((f) => mrkdwn(f, LIMITS.fieldText));
  }
  return block;
}

/** A `context` block of mrkdwn elements (≤ 10). Pass escaped text. */
export function context(...texts: string[]): ContextBlock {
  return {
    type: "context",
    elements: texts.slice(0, LIMITS.contextElements).map((t) => mrkdwn(t, LIMITS.contextText)),
  };
}

/** A `divider` block. */
export function divider(): DividerBlock {
  return { type: "divider" };
}

/** A button: text ≤ 75, value ≤ 2000 (cut with an ellipsis; callers pass ids that fit). Pass escaped text. */
export function button(opts: {
  text: string;
  actionId: string;
  value: string;
  style?: "primary" | "danger";
  confirm?: { title: string; text: string; confirm: string; deny: string };
}): Button {
  const b: Button = {
    type: "button",
    action_id: truncate(opts.actionId, LIMITS.actionId),
    text: plain(opts.text, LIMITS.buttonText),
    value: truncate(opts.value, LIMITS.buttonValue),
  };
  if (opts.style) b.style = opts.style;
  if (opts.confirm) {
    b.confirm = {
      title: plain(opts.confirm.title, LIMITS.confirmTitle),
      text: mrkdwn(opts.confirm.text, LIMITS.confirmText),
      confirm: plain(opts.confirm.confirm, LIMITS.confirmButton),
      deny: plain(opts.confirm.deny, LIMITS.confirmButton),
    };
    if (opts.style) b.confirm.style = opts.style;
  }
  return b;
}

/** An `actions` block holding the given buttons. */
export function actions(blockId: string, ...buttons: Button[]): ActionsBlock {
  return { type: "actions", block_id: blockId, elements: buttons };
}

/**
 * Finishes a message: `text` cut to {@link LIMITS.fallbackText} (never empty: Slack requires it for
 * notifications) and at most 50 blocks (the 50th becomes a context line saying how many were left out).
 */
export function message(text: string, blocks: KnownBlock[]): SlackMessage {
  let out = blocks;
  if (blocks.length > LIMITS.blocks) {
    const kept = blocks.slice(0, LIMITS.blocks - 1);
    out = [...kept, context(`…and ${blocks.length - kept.length} more blocks left out (Slack allows 50).`)];
  }
  const fallback = truncate(text.trim().length > 0 ? text : "Backstop", LIMITS.fallbackText);
  return { text: fallback, blocks: out };
}

/** `0.82` → `82%`; a non-finite number → `?`. */
export function percent(n: number): string {
  return Number.isFinite(n) ? `${Math.round(n * 100)}%` : "?";
}

/** A Slack date token that renders in the reader's time zone, with the ISO text as fallback. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeText(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${escapeText(iso)}>`;
}

/**
 * A mention: `<@U123>` for a Slack user id (`U…`/`W…`), `<!subteam^S123>` for a user group id (`S…`),
 * else the escaped text (so an arbitrary string can never become a mention or a link).
 */
export function mention(id: string): string {
  if (/^[UW][A-Z0-9]{2,}$/.test(id)) return `<@${id}>`;
  if (/^S[A-Z0-9]{2,}$/.test(id)) return `<!subteam^${id}>`;
  return escapeText(id);
}
