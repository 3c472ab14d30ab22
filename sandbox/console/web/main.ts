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
import type { VerifyResult } from "../../../src/receipt/index.js";
import type { AgentView, ClusterView, ConsoleMessage, ConsoleUser, ScenarioInfo } from "../backend.js";
import { AgentColumn } from "./agent.js";
import { AGENTS, type AgentName, getJson } from "./api.js";
import type { BlockContext, ButtonElement } from "./blocks.js";
import { ChannelWithContexts, ConfirmModal, type PendingConfirm } from "./channel.js";

/** The page: scenario bar, user picker, channels, the channel view and both agents' columns. */
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

const root = document.getElementById("app");
if (root !== null) render(html`<${App} />`, root);
