/// <reference lib="dom" />
/** The sandbox Slack channel: threads of messages rendered from Block Kit, and the confirm dialog of a button. */
import { html } from "htm/preact";
import type { VNode } from "preact";
import type { ConsoleMessage, ConsoleUser } from "../backend.js";
import { type BlockContext, type ButtonElement, renderBlocks, renderText } from "./blocks.js";

/** A clicked button with a `confirm` dialog, waiting for the user's answer. */
export interface PendingConfirm {
  button: ButtonElement;
  message: ConsoleMessage;
}

/** Slack's confirm dialog of a button (title, text, confirm and deny). */
export function ConfirmModal(props: {
  pending: PendingConfirm;
  ctx: BlockContext;
  onConfirm: () => void;
  onDeny: () => void;
}): VNode {
  const c = props.pending.button.confirm!;
  return html`<div class="modal-backdrop" data-testid="confirm-modal">
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
      <h2 id="confirm-title" class="modal-title">${c.title}</h2>
      <p data-testid="confirm-text">${renderText(c.text, props.ctx)}</p>
      <div class="modal-buttons">
        <button type="button" class="btn" data-testid="confirm-deny" onClick=${props.onDeny}>${c.deny}</button>
        <button
          type="button"
          class=${`btn ${c.style === "danger" ? "btn-danger" : "btn-primary"}`}
          data-testid="confirm-ok"
          onClick=${props.onConfirm}
        >${c.confirm}</button>
      </div>
    </div>
  </div>`;
}

/** One message: author, time, blocks and files. */
function Message(props: {
  m: ConsoleMessage;
  ctx: BlockContext;
  users: ConsoleUser[];
  reply: boolean;
}): VNode {
  const { m } = props;
  const author = props.users.find((u) => u.id === m.user)?.name ?? m.user;
  const when = new Date(Number(m.ts.split(".")[0]) * 1000).toLocaleTimeString();
  return html`<div class=${`message${props.reply ? " reply" : ""}`} data-testid=${`message-${m.ts}`}>
    <div class="message-meta">
      <span class="author">${author}</span>
      <span class="when">${when}</span>
      ${m.edited ? html`<span class="edited">(edited)</span>` : null}
    </div>
    ${renderBlocks(m.blocks, m.text, props.ctx)}
    ${m.files.map(
      (f) => html`<div class="file" key=${f.id}>
        <span class="file-label">File</span> <a href=${`/api/files/${encodeURIComponent(f.id)}`} data-testid=${`file-${f.id}`}>${f.title || f.name}</a>
        <span class="file-name">${f.name}</span>
      </div>`,
    )}
  </div>`;
}

/** The channel with one {@link BlockContext} per message, so a button knows its message's ts and thread. */
export function ChannelWithContexts(props: {
  messages: ConsoleMessage[];
  ctxOf: (m: ConsoleMessage) => BlockContext;
  users: ConsoleUser[];
}): VNode {
  const roots = props.messages.filter((m) => m.thread_ts === null || m.thread_ts === m.ts);
  if (roots.length === 0) {
    return html`<div class="empty">No messages yet. Pick a scenario above to fire its alert.</div>`;
  }
  return html`<div class="threads">
    ${roots.map(
      (root) => html`<div class="thread" key=${root.ts}>
        <${Message} m=${root} ctx=${props.ctxOf(root)} users=${props.users} reply=${false} />
        <div class="replies">
          ${props.messages
            .filter((m) => m.thread_ts === root.ts && m.ts !== root.ts)
            .map(
              (r) =>
                html`<${Message} key=${r.ts} m=${r} ctx=${props.ctxOf(r)} users=${props.users} reply=${true} />`,
            )}
        </div>
      </div>`,
    )}
  </div>`;
}
