/// <reference lib="dom" />
/**
 * Renders recorded Block Kit (docs.slack.dev/reference/block-kit/blocks) as Preact elements: `header`,
 * `section` (text, `fields` in two columns, a button or image `accessory`), `context`, `divider`,
 * `actions` (buttons with `primary`/`danger` style and an optional `confirm` dialog object) and `image`.
 * Anything else shows as a labelled placeholder, never as a crash: the blocks come from the bot as posted.
 */
import { html } from "htm/preact";
import type { VNode } from "preact";
import { emojify, type MrkdwnNode, parseMrkdwn } from "./mrkdwn.js";

/** A Block Kit text object: `{ type: "plain_text" | "mrkdwn", text }`. */
export interface TextObject {
  type: "plain_text" | "mrkdwn";
  text: string;
}

/** A Block Kit `confirm` composition object: the dialog shown before a button's action is sent. */
export interface ConfirmObject {
  title: string;
  text: TextObject | null;
  confirm: string;
  deny: string;
  style: "primary" | "danger" | null;
}

/** A `button` element as the console needs it; `value` defaults to `""` when the button has none. */
export interface ButtonElement {
  action_id: string;
  value: string;
  text: string;
  style: "primary" | "danger" | null;
  url: string | null;
  confirm: ConfirmObject | null;
}

/** What rendering needs from the page: a display name for `<@U…>` and what a button press does. */
export interface BlockContext {
  userName(id: string): string;
  onButton(button: ButtonElement): void;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** Reads a text object; `null` when `v` is not one. */
export function textObject(v: unknown): TextObject | null {
  if (!isObj(v)) return null;
  const text = str(v.text);
  if (text === null) return null;
  return { type: v.type === "mrkdwn" ? "mrkdwn" : "plain_text", text };
}

function plain(v: unknown): string {
  return textObject(v)?.text ?? "";
}

function styleOf(v: unknown): "primary" | "danger" | null {
  return v === "primary" || v === "danger" ? v : null;
}

/** Reads a `button` element (Block Kit "Button element"); `null` when `v` is not a button. */
export function buttonElement(v: unknown): ButtonElement | null {
  if (!isObj(v) || v.type !== "button") return null;
  const actionId = str(v.action_id);
  if (actionId === null) return null;
  const c = v.confirm;
  const confirm: ConfirmObject | null = isObj(c)
    ? {
        title: plain(c.title) || "Are you sure?",
        text: textObject(c.text),
        confirm: plain(c.confirm) || "Yes",
        deny: plain(c.deny) || "Cancel",
        style: styleOf(c.style),
      }
    : null;
  return {
    action_id: actionId,
    value: str(v.value) ?? "",
    text: plain(v.text),
    style: styleOf(v.style),
    url: str(v.url),
    confirm,
  };
}

function renderNodes(nodes: MrkdwnNode[], ctx: BlockContext): (VNode | string)[] {
  return nodes.map((n): VNode | string => {
    switch (n.t) {
      case "text":
        return n.v;
      case "br":
        return html`<br />`;
      case "b":
        return html`<strong>${renderNodes(n.children, ctx)}</strong>`;
      case "i":
        return html`<em>${renderNodes(n.children, ctx)}</em>`;
      case "s":
        return html`<del>${renderNodes(n.children, ctx)}</del>`;
      case "quote":
        return html`<blockquote class="quote">${renderNodes(n.children, ctx)}</blockquote>`;
      case "code":
        return html`<code>${n.v}</code>`;
      case "pre":
        return html`<pre>${n.v}</pre>`;
      case "link": {
        const safe = /^(https?:|mailto:|\/)/i.test(n.url) ? n.url : null;
        return safe === null
          ? html`<span class="link">${n.text}</span>`
          : html`<a href=${safe} target="_blank" rel="noopener noreferrer">${n.text}</a>`;
      }
      case "user":
        return html`<span class="mention">@${ctx.userName(n.id)}</span>`;
      case "channel":
        return html`<span class="mention">#${n.name ?? n.id}</span>`;
      case "special":
        return html`<span class="mention">${n.v}</span>`;
    }
    return "";
  });
}

/** Renders a text object: mrkdwn parsed, plain text as is. */
export function renderText(t: TextObject | null, ctx: BlockContext): VNode | null {
  if (t === null) return null;
  // Slack turns emoji shortcodes into emoji in plain_text too (`emoji: true`, the default).
  if (t.type === "plain_text") return html`<span class="text">${emojify(t.text)}</span>`;
  return html`<span class="text mrkdwn">${renderNodes(parseMrkdwn(t.text), ctx)}</span>`;
}

/** Renders a button; `data-testid="button-<action_id>-<value>"`. A `url` button opens the link as well. */
export function renderButton(b: ButtonElement, ctx: BlockContext): VNode {
  const cls = `btn${b.style === null ? "" : ` btn-${b.style}`}`;
  return html`<button
    type="button"
    class=${cls}
    data-testid=${`button-${b.action_id}-${b.value}`}
    onClick=${() => {
      if (b.url !== null && /^https?:/i.test(b.url)) window.open(b.url, "_blank", "noopener");
      ctx.onButton(b);
    }}
  >${b.text}</button>`;
}

function renderImage(v: Obj, small: boolean): VNode {
  const url = str(v.image_url) ?? "";
  const alt = str(v.alt_text) ?? "";
  const ok = /^(https?:|data:image\/)/i.test(url);
  return ok
    ? html`<img class=${small ? "img-small" : "img"} src=${url} alt=${alt} title=${alt} />`
    : html`<span class="unsupported">[image: ${alt}]</span>`;
}

function unsupported(what: string): VNode {
  return html`<div class="unsupported">[unsupported ${what}]</div>`;
}

/** Renders one block; unknown or malformed blocks become a placeholder naming the type. */
export function renderBlock(block: unknown, ctx: BlockContext, key: number): VNode {
  if (!isObj(block)) return unsupported("block");
  switch (block.type) {
    case "header":
      return html`<div key=${key} class="block block-header">${emojify(plain(block.text))}</div>`;
    case "divider":
      return html`<hr key=${key} class="block block-divider" />`;
    case "section": {
      const fields = Array.isArray(block.fields) ? block.fields : [];
      const acc = block.accessory;
      const button = buttonElement(acc);
      const accessory =
        button !== null
          ? renderButton(button, ctx)
          : isObj(acc) && acc.type === "image"
            ? renderImage(acc, true)
            : acc === undefined
              ? null
              : unsupported(`accessory ${String(isObj(acc) ? acc.type : "")}`);
      return html`<div key=${key} class="block block-section">
        <div class="section-body">
          ${renderText(textObject(block.text), ctx)}
          ${
            fields.length > 0
              ? html`<div class="fields">${fields.map(
                  (f, i) => html`<div class="field" key=${i}>${renderText(textObject(f), ctx)}</div>`,
                )}</div>`
              : null
          }
        </div>
        ${accessory === null ? null : html`<div class="accessory">${accessory}</div>`}
      </div>`;
    }
    case "context": {
      const elements = Array.isArray(block.elements) ? block.elements : [];
      return html`<div key=${key} class="block block-context">
        ${elements.map((el) =>
          isObj(el) && el.type === "image" ? renderImage(el, true) : renderText(textObject(el), ctx),
        )}
      </div>`;
    }
    case "actions": {
      const elements = Array.isArray(block.elements) ? block.elements : [];
      return html`<div key=${key} class="block block-actions">
        ${elements.map((el) => {
          const b = buttonElement(el);
          return b === null
            ? unsupported(`element ${String(isObj(el) ? el.type : "")}`)
            : renderButton(b, ctx);
        })}
      </div>`;
    }
    case "image":
      return html`<div key=${key} class="block block-image">
        ${block.title === undefined ? null : html`<div class="image-title">${plain(block.title)}</div>`}
        ${renderImage(block, false)}
      </div>`;
    default:
      return unsupported(`block ${String(block.type)}`);
  }
}

/** Renders a message's blocks; with none, the message's `text` as mrkdwn (Slack's own fallback). */
export function renderBlocks(blocks: unknown[], text: string, ctx: BlockContext): VNode {
  if (blocks.length === 0) {
    return html`<div class="blocks">${renderText({ type: "mrkdwn", text }, ctx)}</div>`;
  }
  return html`<div class="blocks">${blocks.map((b, i) => renderBlock(b, ctx, i))}</div>`;
}
