/** What the demo's console backend and its `fire` work over. */

import type { ClusterRoster } from "../../src/contracts/cluster.js";
import type { Policy } from "../../src/guardrails/policy.js";
import type { LoadedPrompt } from "../../src/prompts/loader.js";
import type { RunStore } from "../../src/queue/store.js";
import type { SigningKey } from "../../src/receipt/index.js";
import type { ConsoleUser, ScenarioInfo } from "../console/backend.js";
import type { SandboxSlack } from "../slack/index.js";
import type { SandboxStack } from "../stack.js";
import type { DemoFeed } from "./feed.js";

/** What `demoBackend` works over: everything `startDemo` started, and the console's feed. */
export interface DemoBackendDeps {
  scenarios: ScenarioInfo[];
  /** Scenario name → its YAML file. */
  byName: Map<string, string>;
  /** Backstop's world and the naive agent's, apart so their damage does not mix. */
  backstopWorld: SandboxStack;
  naiveWorld: SandboxStack;
  slack: SandboxSlack;
  store: RunStore;
  roster: ClusterRoster;
  /** The bot's base URL, its alert route's bearer token and its Slack signing secret. */
  botUrl: string;
  alertToken: string;
  signingSecret: string;
  signingKey: SigningKey;
  policy: Policy;
  prompts: { diagnosis: LoadedPrompt; judge: LoadedPrompt };
  /** Where the naive agent's receipts are written. */
  receiptsDir: string;
  channel: string;
  users: ConsoleUser[];
  feed: DemoFeed;
}
