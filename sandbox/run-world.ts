import type { RunReporter } from "../src/contracts/events.js";
import { BackstopError } from "../src/errors.js";
import { loadPolicy, type Policy } from "../src/guardrails/policy.js";
import {
  connectInfra,
  connectNotify,
  type InfraClient,
  leaseAll,
  McpClientPool,
  type NotifyClient,
} from "../src/mcp/index.js";
import { type LoadedPrompt, loadPrompt } from "../src/prompts/loader.js";
import type { RunWorld } from "../src/queue/world.js";
import type { SigningKey } from "../src/receipt/index.js";
import { backstopDeps } from "./harness.js";
import type { SandboxStack } from "./stack.js";

/**
 * The worker's world over a sandbox stack (tests and `backstop demo`): each run uses the stack's current
 * scenario — its model chain on the sandbox provider (a fresh router per run, so one scenario's
 * cooldowns do not leak into the next), mcp-infra bound to the run's cluster and the tickets MCP server
 * (pooled clients, leased per run as in production: {@link McpClientPool}), and that cluster's writer
 * token. `close()` closes the pooled clients. A run naming a cluster the stack does not run fails to open
 * (BackstopError `cluster.unknown`); a run naming none gets the only cluster (`cluster.required` with several).
 * `reporters(runId)` adds per-run reporters, e.g. the demo console's timeline.
 */
export function sandboxRunWorld(
  stack: SandboxStack,
  opts: {
    signingKey: SigningKey;
    policy?: Policy;
    prompts?: { diagnosis: LoadedPrompt; judge: LoadedPrompt };
    reporters?: (runId: string) => RunReporter[];
    recoveryTimeoutMs?: number;
  },
): RunWorld {
  const policy = opts.policy ?? loadPolicy();
  const infraPool = new McpClientPool<InfraClient>((cluster) => connectInfra(stack.infraUrl, { cluster }));
  const notifyPool = new McpClientPool<NotifyClient>(() => connectNotify(stack.tickets.url));
  return {
    recoveryTimeoutMs: opts.recoveryTimeoutMs ?? 30_000,
    signalsWindow: "15m",
    async close() {
      await Promise.all([infraPool.close(), notifyPool.close()]);
    },
    async open(run) {
      const cluster = run.cluster ?? stack.clusterNames[0]!;
      if (run.cluster === undefined && stack.clusterNames.length > 1)
        throw new BackstopError(
          "cluster.required",
          `the sandbox runs ${stack.clusterNames.join(", ")}: a run must name its cluster`,
        );
      if (!stack.clusters.has(cluster))
        throw new BackstopError(
          "cluster.unknown",
          `the sandbox has no cluster "${cluster}" (it runs ${stack.clusterNames.join(", ")})`,
        );
      const prompts = opts.prompts ?? {
        diagnosis: await loadPrompt("diagnosis"),
        judge: await loadPrompt("judge"),
      };
      const { clients, release } = await leaseAll({
        infra: { pool: infraPool, key: cluster },
        notify: { pool: notifyPool, key: "tickets" },
      });
      const { infra, notify } = clients;
      const reporters = opts.reporters?.(run.runId) ?? [];
      return {
        deps: backstopDeps(stack, stack.scenario, {
          infra,
          notify,
          policy,
          prompts,
          reporters,
          opts: { signingKey: opts.signingKey },
          cluster,
        }),
        reporters,
        close: async () => release(),
      };
    },
  };
}
