/** The demo's console backend over the running pieces: scenarios, Slack messages and clicks, clusters, runs, receipts. */
import { verifyReceiptText } from "../../src/receipt/index.js";
import type { AgentView, ConsoleBackend, ConsoleMessage } from "../console/backend.js";
import { blastRadius } from "../harness.js";
import { sendBlockAction } from "../slack/index.js";
import type { DemoBackendDeps } from "./deps.js";
import { clusterView, runCluster } from "./feed.js";
import { fireScenario } from "./fire.js";

/** The {@link ConsoleBackend} of the demo (see {@link fireScenario} for `fire`). */
export function demoBackend(d: DemoBackendDeps): ConsoleBackend {
  const { backstopWorld, naiveWorld, slack, store, botUrl, signingSecret, policy } = d;
  const { state, listeners } = d.feed;
  const backend: ConsoleBackend = {
    scenarios: () => d.scenarios,
    fire: (name) => fireScenario(d, name),
    channels: () => [d.channel],
    messages: (channel): ConsoleMessage[] =>
      slack
        .messages(channel)
        .filter((m) => m.ephemeral_to === null)
        .map((m) => ({
          channel: m.channel,
          ts: m.ts,
          thread_ts: m.thread_ts,
          user: m.user,
          text: m.text,
          blocks: m.blocks,
          edited: m.edited,
          files: m.files,
        })),
    async click(a) {
      const message = slack.messages(a.channel).find((m) => m.ts === a.message_ts);
      const r = await sendBlockAction(`${botUrl}/slack/events`, signingSecret, {
        user_id: a.user_id,
        channel_id: a.channel,
        message_ts: a.message_ts,
        ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}),
        action_id: a.action_id,
        value: a.value,
        response_url: slack.newResponseUrl({
          channel: a.channel,
          user: a.user_id,
          message_ts: a.message_ts,
        }),
        ...(message ? { message: { text: message.text, blocks: message.blocks } } : {}),
      });
      return { status: r.status };
    },
    users: () => d.users,
    cluster: (agent) => clusterView(agent === "backstop" ? backstopWorld : naiveWorld),
    agent(agent): AgentView | null {
      const s = state[agent];
      if (!s) return null;
      const blast = blastRadius(agent === "backstop" ? backstopWorld : naiveWorld, policy);
      return {
        agent,
        runId: s.runId,
        cluster: runCluster(s.events),
        scenario: s.scenario,
        events: [...s.events],
        outcome: s.outcome,
        blast,
      };
    },
    async receipt(runId) {
      if (state.naive?.runId === runId) return state.naive.receipt;
      return store.getReceipt(runId);
    },
    async verify(runId) {
      const text = await backend.receipt(runId);
      return text === null ? null : verifyReceiptText(text);
    },
    async fileBytes(id) {
      const f = slack.files().find((x) => x.id === id);
      return f ? { bytes: f.bytes, mimetype: f.mimetype, name: f.name } : null;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return backend;
}
