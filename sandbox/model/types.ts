import type { Scenario } from "../../scenarios/schema.js";

/**
 * The public shapes of the sandbox model provider (see `provider.ts`): its options, the live upstream it
 * may forward to, one logged request, and the running provider.
 */

/**
 * Options for `startSandboxModelProvider`.
 * - `host` default `127.0.0.1`, `port` default 0 (an ephemeral port).
 * - `logFile`: every request is appended to it as one JSON line (see {@link LoggedModelRequest}).
 * - `virtualModels`: gateway-style virtual models, name → ordered list of scenario models. A request to
 *   the virtual model walks the list and answers with the first model whose scripted step is not an error
 *   (each member's own counter advances), setting `x-tfy-resolved-model` to that member; if all fail, the
 *   last error is returned. This simulates a gateway-side fallback (TrueFoundry virtual models).
 */
export interface SandboxModelProviderOptions {
  scenario: Scenario;
  host?: string;
  port?: number;
  logFile?: string;
  virtualModels?: Record<string, string[]>;
  /**
   * `--live`: where a call goes once the scenario's script for that (run, model, purpose) is used up —
   * a real OpenAI-compatible endpoint (`baseURL` ending in `/v1`, its API key, the model to ask for), or
   * null to keep the scripted default. The request is forwarded as is (model replaced, the caller's
   * `X-TFY-*` headers kept) and the upstream answer returned unchanged, `x-tfy-resolved-model` included.
   */
  live?: (model: string, purpose: string) => LiveUpstream | null;
}

/** A real endpoint the provider forwards to in live mode. `timeoutMs` bounds one forwarded call (ms). */
export interface LiveUpstream {
  baseURL: string;
  apiKey: string | undefined;
  model: string;
  timeoutMs: number;
}

/**
 * One request as the provider saw it. `at` is ISO-8601; `headers` are lower-cased, with `authorization`
 * replaced by `sha256:<first 12 hex of sha256(raw value)>` so a log never holds an API key; `body` is the
 * parsed JSON request (or the raw text when it was not JSON); `response_status` the HTTP status answered.
 * `model` is the requested model (for a virtual model, the virtual name).
 */
export interface LoggedModelRequest {
  at: string;
  model: string;
  purpose: string;
  run_id: string;
  headers: Record<string, string>;
  body: unknown;
  response_status: number;
}

/**
 * A running provider. `url` is the base URL ending in `/v1` (give it to the `openai` client as `baseURL`).
 * `requests()` returns a copy of the in-memory log; `reset(scenario)` swaps the scenario and clears the
 * counters and the in-memory log (the log file keeps growing); `close()` stops the server, dropping
 * connections that are still waiting on a `delay_ms`.
 */
export interface SandboxModelProvider {
  url: string;
  requests(): LoggedModelRequest[];
  reset(scenario: Scenario): void;
  close(): Promise<void>;
}
