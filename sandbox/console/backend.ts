/**
 * The console's view of the running product: what the web console (`sandbox/console/server.ts`) reads and
 * does. The lead's demo backend implements it over the sandbox stack, the bot, the worker and Redis; the
 * tests implement it in memory. Every shape here is JSON-safe except {@link ConsoleBackend.fileBytes}.
 *
 * Terms are the field's: Slack `ts`/`thread_ts`/`action_id`/`value` as in the Slack Web API and Block Kit
 * `block_actions` payloads; Kubernetes kinds, namespaces and `deployment.kubernetes.io/revision`; run
 * events as in `src/contracts/events.ts`.
 */
import type { RunEvent, RunOutcome } from "../../src/contracts/events.js";
import type { VerifyResult } from "../../src/receipt/index.js";

/** One scenario file: `name` is the file's base name (`hallucinated-diagnosis`), `fires` the alert it fires. */
export interface ScenarioInfo {
  name: string;
  title: string;
  description: string;
  fires: string;
}

/**
 * One message of the sandbox Slack as recorded: `ts`/`thread_ts` are Slack timestamps (`"1712345678.000100"`);
 * `thread_ts` is `null` for a top-level message; `blocks` is the Block Kit array as posted; `edited` is true
 * after a `chat.update`; `files` are the files shared into it (`files.uploadV2`).
 */
export interface ConsoleMessage {
  channel: string;
  ts: string;
  thread_ts: string | null;
  user: string;
  text: string;
  blocks: unknown[];
  edited: boolean;
  files: { id: string; name: string; title: string }[];
}

/**
 * One agent's run: its events so far (receipt order), its outcome (or `running` / `awaiting_approval`), and
 * its blast radius: `workloads` changed, of which `protected` were in protected namespaces or workloads;
 * `changed` lists them as `namespace/Kind/name`.
 */
export interface AgentView {
  agent: "naive" | "backstop";
  runId: string;
  /** The cluster the run touched (from its `run.started` event), or null before it started. */
  cluster: string | null;
  scenario: string;
  events: RunEvent[];
  outcome: RunOutcome | "running" | "awaiting_approval";
  blast: { workloads: number; protected: number; changed: string[] };
}

/**
 * One workload of a sandbox cluster: `kind` a Kubernetes kind (`Deployment`, `StatefulSet`), `revision` the
 * `deployment.kubernetes.io/revision` (null when none), `sha` the deploy SHA label, `health` a short word
 * (`healthy`, `degraded`, `failing`).
 */
export interface WorkloadView {
  kind: string;
  namespace: string;
  name: string;
  replicas: { desired: number; ready: number };
  revision: number | null;
  image: string;
  sha: string | null;
  health: string;
  protected: boolean;
}

/** A sandbox cluster as the console shows it. */
export interface ClusterView {
  /** The name the cluster is served under (what the alert's `cluster` label says). */
  name: string;
  namespaces: { name: string; protected: boolean }[];
  workloads: WorkloadView[];
}

/** A sandbox Slack user (`id` like `U0APPROVER`); `approver` when config lets them decide escalations. */
export interface ConsoleUser {
  id: string;
  name: string;
  approver: boolean;
}

/**
 * What the console needs from the product. Reads are synchronous snapshots; `fire`, `click`, `receipt`,
 * `verify` and `fileBytes` are async and may throw (`BackstopError`), which the server answers with a 500
 * JSON body. `onChange` returns an unsubscribe function.
 */
export interface ConsoleBackend {
  scenarios(): ScenarioInfo[];
  fire(name: string): Promise<{ backstopRunId: string; naiveRunId: string }>; // resets both worlds, starts both agents on the scenario's alert
  channels(): string[];
  messages(channel: string): ConsoleMessage[]; // top-level + replies, post order
  click(a: {
    channel: string;
    message_ts: string;
    thread_ts: string | null;
    action_id: string;
    value: string;
    user_id: string;
  }): Promise<{ status: number }>; // a signed block_actions interaction to the bot
  users(): ConsoleUser[];
  cluster(agent: "naive" | "backstop"): ClusterView; // two worlds: the naive agent acts on its own copy
  agent(agent: "naive" | "backstop"): AgentView | null;
  receipt(runId: string): Promise<string | null>; // the exact serialized receipt
  verify(runId: string): Promise<VerifyResult | null>; // same check as `backstop verify`
  fileBytes(id: string): Promise<{ bytes: Buffer; mimetype: string; name: string } | null>; // files uploaded into threads (the receipt)
  onChange(listener: (what: "slack" | "cluster" | "naive" | "backstop") => void): () => void;
}

/** The four kinds of change {@link ConsoleBackend.onChange} reports, as sent on `GET /api/events`. */
export type ConsoleChange = "slack" | "cluster" | "naive" | "backstop";
