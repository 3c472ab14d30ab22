/// <reference lib="dom" />
/**
 * The /run console page: a scenario bar, the sandbox Slack channel (threads rendered from Block Kit, buttons
 * that send real signed interactions through `POST /api/click`), and side by side the naive agent and
 * Backstop (outcome, blast radius, timeline, cluster, receipt). Live through an `EventSource` on
 * `/api/events`. Served by `sandbox/console/server.ts`; built by `vite build` into `dist/console/`.
 */
import { html, render } from "htm/preact";
import type { VNode } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import type { RunEvent } from "../../../src/contracts/events.js";
import type { VerifyResult } from "../../../src/receipt/index.js";
import type { AgentView, ClusterView, ConsoleMessage, ConsoleUser, ScenarioInfo } from "../backend.js";
import { type BlockContext, type ButtonElement, renderBlocks, renderText } from "./blocks.js";
import { describeEvent } from "./timeline.js";

type AgentName = "naive" | "backstop";
const AGENTS: AgentName[] = ["naive", "backstop"];

/** Fetches JSON; throws an Error carrying the server's `{ error }` message on a non-2xx answer. */
async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, init);
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const msg =
      typeof body === "object" && body !== null && "error" in body
        ? String(body.error)
        : `HTTP ${res.status}`;
    throw new Error(msg);
  }
  return body as T;
}

interface PendingConfirm {
  button: ButtonElement;
  message: ConsoleMessage;
}

function ConfirmModal(props: {
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

function ClusterPanel(props: { cluster: ClusterView | null }): VNode {
  const c = props.cluster;
  if (c === null) return html`<div class="cluster empty">cluster not loaded</div>`;
  return html`<div class="cluster">
    <div class="cluster-name" data-testid="cluster-name">cluster <code>${c.name}</code></div>
    <div class="namespaces">
      ${c.namespaces.map(
        (n) => html`<span class=${`ns${n.protected ? " protected" : ""}`} key=${n.name}
          >${n.name}${n.protected ? html` <span class="tag-protected">protected</span>` : null}</span
        >`,
      )}
    </div>
    <table>
      <thead><tr><th>workload</th><th>rev</th><th>sha</th><th>ready</th><th>health</th></tr></thead>
      <tbody>
        ${c.workloads.map(
          (w) => html`<tr key=${`${w.namespace}/${w.kind}/${w.name}`} class=${w.protected ? "protected" : ""}>
            <td title=${w.image}>${w.namespace}/${w.name}${w.protected ? html` <span class="tag-protected">protected</span>` : null} <span class="kind">${w.kind}</span></td>
            <td>${w.revision ?? "–"}</td>
            <td>${w.sha === null ? "–" : html`<code title=${w.sha}>${w.sha.slice(0, 7)}</code>`}</td>
            <td>${w.replicas.ready}/${w.replicas.desired}</td>
            <td><span class=${`health health-${w.health}`}>${w.health}</span></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function Receipt(props: {
  agent: AgentName;
  view: AgentView;
  verify: VerifyResult | "none" | undefined;
}): VNode | null {
  const { view, verify } = props;
  if (verify === undefined || verify === "none") return null;
  const href = `/api/receipts/${encodeURIComponent(view.runId)}`;
  return html`<div class="receipt">
    <a href=${href} download data-testid=${`receipt-${props.agent}`}>Download receipt</a>
    <span class=${`badge ${verify.ok ? "badge-ok" : "badge-bad"}`} data-testid=${`verified-${props.agent}`}
      >${verify.ok ? "verified" : `NOT verified: ${verify.reason}`}</span
    >
  </div>`;
}

function AgentColumn(props: {
  agent: AgentName;
  view: AgentView | null;
  cluster: ClusterView | null;
  verify: VerifyResult | "none" | undefined;
}): VNode {
  const { agent, view } = props;
  const title = agent === "naive" ? "Naive agent" : "Backstop";
  const subtitle =
    agent === "naive" ? "one model, every tool, admin token, no gates" : "grounded, gated, scoped";
  const cost = view === null ? 0 : totalCost(view.events);
  return html`<section class=${`agent agent-${agent}`}>
    <header>
      <h2>${title}</h2>
      <div class="subtitle">${subtitle}</div>
    </header>
    ${
      view === null
        ? html`<div class="empty">not run yet</div>`
        : html`<div class="summary">
            <span class=${`badge outcome outcome-${view.outcome}`} data-testid=${`outcome-${agent}`}>${view.outcome}</span>
            <span class=${`blast${view.blast.protected > 0 ? " blast-bad" : ""}`} data-testid=${`blast-${agent}`}
              >${view.blast.workloads} workloads changed, ${view.blast.protected} protected</span
            >
            <span class="cost">$${cost.toFixed(4)}</span>
            ${view.cluster ? html`<span class="run-cluster" data-testid=${`cluster-${agent}`}>cluster <code>${view.cluster}</code></span>` : null}
          </div>
          ${
            view.blast.changed.length > 0
              ? html`<div class="changed">changed: ${view.blast.changed.map((c) => html`<code key=${c}>${c}</code> `)}</div>`
              : null
          }
          <${Receipt} agent=${agent} view=${view} verify=${props.verify} />
          <ol class="timeline" data-testid=${`timeline-${agent}`}>
            ${view.events.map((e) => {
              const l = describeEvent(e);
              return html`<li key=${e.seq} class=${`tone-${l.tone}`}>
                <span class="stage">${l.stage}</span>
                <span class="detail">${l.detail}</span>
                ${l.cost_usd !== null && l.cost_usd > 0 ? html`<span class="cost">$${l.cost_usd.toFixed(4)}</span>` : null}
              </li>`;
            })}
          </ol>`
    }
    <h3>Cluster</h3>
    <${ClusterPanel} cluster=${props.cluster} />
  </section>`;
}

function totalCost(events: RunEvent[]): number {
  let sum = 0;
  for (const e of events) {
    if (e.type === "model.call") sum += (e.data as { cost_usd?: number }).cost_usd ?? 0;
  }
  return sum;
}

function App(): VNode {
  const [scenarios, setScenarios] = useState<ScenarioInfo[]>([]);
  const [users, setUsers] = useState<ConsoleUser[]>([]);
  const [userId, setUserId] = useState<string>("");
  const [channels, setChannels] = useState<string[]>([]);
  const [channel, setChannel] = useState<string>("");
  const [messages, setMessages] = useState<ConsoleMessage[]>([]);
  const [agents, setAgents] = useState<Record<AgentName, AgentView | null>>({ naive: null, backstop: null });
  const [clusters, setClusters] = useState<Record<AgentName, ClusterView | null>>({
    naive: null,
    backstop: null,
  });
  const [verifies, setVerifies] = useState<Record<string, VerifyResult | "none">>({});
  const [pending, setPending] = useState<PendingConfirm | null>(null);
  const [firing, setFiring] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ text: string; bad: boolean } | null>(null);
  const [live, setLive] = useState(false);

  const report = useCallback((err: unknown) => {
    setNotice({ text: err instanceof Error ? err.message : String(err), bad: true });
  }, []);

  const loadMessages = useCallback(
    async (ch: string) => {
      if (ch === "") return;
      try {
        setMessages(await getJson<ConsoleMessage[]>(`/api/messages?channel=${encodeURIComponent(ch)}`));
      } catch (err) {
        report(err);
      }
    },
    [report],
  );

  const loadSlack = useCallback(async () => {
    try {
      const list = await getJson<string[]>("/api/channels");
      setChannels(list);
      const ch = channel !== "" && list.includes(channel) ? channel : (list[0] ?? "");
      if (ch !== channel) setChannel(ch);
      await loadMessages(ch);
    } catch (err) {
      report(err);
    }
  }, [channel, loadMessages, report]);

  const loadAgent = useCallback(
    async (a: AgentName) => {
      try {
        const view = await getJson<AgentView | null>(`/api/agents/${a}`);
        setAgents((prev) => ({ ...prev, [a]: view }));
        if (view !== null && view.outcome !== "running" && view.outcome !== "awaiting_approval") {
          const res = await fetch(`/api/receipts/${encodeURIComponent(view.runId)}/verify`);
          const result: VerifyResult | "none" = res.ok ? ((await res.json()) as VerifyResult) : "none";
          setVerifies((prev) => ({ ...prev, [view.runId]: result }));
        }
      } catch (err) {
        report(err);
      }
    },
    [report],
  );

  const loadClusters = useCallback(async () => {
    try {
      const [naive, backstop] = await Promise.all(
        AGENTS.map((a) => getJson<ClusterView>(`/api/cluster/${a}`)),
      );
      setClusters({ naive: naive ?? null, backstop: backstop ?? null });
    } catch (err) {
      report(err);
    }
  }, [report]);

  useEffect(() => {
    void (async () => {
      try {
        setScenarios(await getJson<ScenarioInfo[]>("/api/scenarios"));
        const us = await getJson<ConsoleUser[]>("/api/users");
        setUsers(us);
        setUserId((us.find((u) => u.approver) ?? us[0])?.id ?? "");
      } catch (err) {
        report(err);
      }
    })();
    void loadClusters();
    for (const a of AGENTS) void loadAgent(a);
  }, [loadAgent, loadClusters, report]);

  useEffect(() => {
    void loadSlack();
  }, [loadSlack]);

  useEffect(() => {
    const es = new EventSource("/api/events");
    es.onopen = () => setLive(true);
    es.onerror = () => setLive(false);
    es.onmessage = (ev: MessageEvent<string>) => {
      let what = "";
      try {
        what = String((JSON.parse(ev.data) as { what?: unknown }).what ?? "");
      } catch {
        return;
      }
      if (what === "slack") void loadSlack();
      else if (what === "cluster") void loadClusters();
      else if (what === "naive" || what === "backstop") void loadAgent(what);
    };
    return () => es.close();
  }, [loadSlack, loadClusters, loadAgent]);

  const send = useCallback(
    async (button: ButtonElement, message: ConsoleMessage) => {
      try {
        const result = await getJson<{ status: number }>("/api/click", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            channel: message.channel,
            message_ts: message.ts,
            thread_ts: message.thread_ts,
            action_id: button.action_id,
            value: button.value,
            user_id: userId,
          }),
        });
        const who = users.find((u) => u.id === userId)?.name ?? userId;
        setNotice({
          text: `"${button.text}" sent as ${who}; the bot answered ${result.status}`,
          bad: result.status >= 400,
        });
      } catch (err) {
        report(err);
      }
    },
    [userId, users, report],
  );

  const contextFor = useMemo(() => {
    const cache = new Map<string, BlockContext>();
    return (m: ConsoleMessage): BlockContext => {
      const key = `${m.channel}:${m.ts}:${m.thread_ts ?? ""}`;
      let ctx = cache.get(key);
      if (ctx === undefined) {
        ctx = {
          userName: (id) => users.find((u) => u.id === id)?.name ?? id,
          onButton: (b) => {
            if (b.confirm !== null) setPending({ button: b, message: m });
            else void send(b, m);
          },
        };
        cache.set(key, ctx);
      }
      return ctx;
    };
  }, [users, send]);

  const fire = async (name: string) => {
    setFiring(name);
    setNotice(null);
    try {
      await getJson<{ backstopRunId: string; naiveRunId: string }>(
        `/api/scenarios/${encodeURIComponent(name)}/fire`,
        {
          method: "POST",
        },
      );
      setNotice({ text: `fired ${name}`, bad: false });
    } catch (err) {
      report(err);
    } finally {
      setFiring(null);
      void loadSlack();
      void loadClusters();
      for (const a of AGENTS) void loadAgent(a);
    }
  };

  const channelMessages = messages.filter((m) => m.channel === channel);
  const ctxOf = (m: ConsoleMessage) => contextFor(m);

  return html`<div class="app">
    <header class="topbar">
      <div class="brand">Backstop <span class=${`live${live ? " on" : ""}`} title="live updates">●</span></div>
      <nav class="scenarios" aria-label="scenarios">
        ${scenarios.map(
          (s) => html`<button
            key=${s.name}
            type="button"
            class="btn scenario"
            title=${`${s.description}\n\nfires: ${s.fires}`}
            data-testid=${`scenario-${s.name}`}
            disabled=${firing !== null}
            onClick=${() => void fire(s.name)}
          >${firing === s.name ? "firing…" : s.title}</button>`,
        )}
      </nav>
      <label class="user-picker">
        acting as
        <select data-testid="user-picker" value=${userId} onChange=${(e: Event) => setUserId((e.target as HTMLSelectElement).value)}>
          ${users.map((u) => html`<option key=${u.id} value=${u.id}>${u.name}${u.approver ? " (approver)" : ""}</option>`)}
        </select>
      </label>
    </header>
    ${notice === null ? null : html`<div class=${`notice${notice.bad ? " bad" : ""}`} data-testid="notice">${notice.text}</div>`}
    <main class="layout">
      <aside class="sidebar">
        <div class="sidebar-title">Channels</div>
        ${channels.map(
          (ch) => html`<button
            key=${ch}
            type="button"
            class=${`channel${ch === channel ? " active" : ""}`}
            data-testid=${`channel-${ch}`}
            onClick=${() => {
              setChannel(ch);
              void loadMessages(ch);
            }}
          ># ${ch}</button>`,
        )}
      </aside>
      <section class="channel-view" data-testid="channel-view">
        <${ChannelWithContexts} messages=${channelMessages} ctxOf=${ctxOf} users=${users} />
      </section>
      <section class="agents">
        ${AGENTS.map(
          (a) => html`<${AgentColumn}
            key=${a}
            agent=${a}
            view=${agents[a]}
            cluster=${clusters[a]}
            verify=${agents[a] === null ? undefined : verifies[agents[a]!.runId]}
          />`,
        )}
      </section>
    </main>
    ${
      pending === null
        ? null
        : html`<${ConfirmModal}
            pending=${pending}
            ctx=${contextFor(pending.message)}
            onDeny=${() => setPending(null)}
            onConfirm=${() => {
              const p = pending;
              setPending(null);
              void send(p.button, p.message);
            }}
          />`
    }
  </div>`;
}

/** The channel with one {@link BlockContext} per message, so a button knows its message's ts and thread. */
function ChannelWithContexts(props: {
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

const root = document.getElementById("app");
if (root !== null) render(html`<${App} />`, root);
