import { ClusterWriters } from "../actions/index.js";
import type { Config } from "../config.js";
import { toModelTarget } from "../contracts/model-target.js";
import { BackstopError } from "../errors.js";
import { ModelRouter } from "../gateway/index.js";
import type { BudgetStore } from "../gateway/store.js";
import { loadPolicy } from "../guardrails/policy.js";
import {
  connectInfra,
  connectNotify,
  type InfraClient,
  leaseAll,
  McpClientPool,
  type NotifyClient,
} from "../mcp/index.js";
import type { PipelineDeps } from "../pipeline/run.js";
import { loadPrompt } from "../prompts/loader.js";
import { loadSigningKey } from "../receipt/index.js";

/** The dependencies one job runs over, opened for the job and closed after it. */
export interface OpenedWorld {
  deps: Omit<PipelineDeps, "reporters" | "options">;
  /** Extra reporters for this run (e.g. the demo console's), besides the Slack thread. */
  reporters: PipelineDeps["reporters"];
  close(): Promise<void>;
}

/**
 * Where a worker's runs happen: production (the configured cluster, gateway and MCP servers) or the
 * sandbox (the demo). `open` connects what a run needs; `close` releases it.
 */
export interface RunWorld {
  /**
   * Opens the run's dependencies bound to `cluster`: signals read from that cluster only, actions
   * through that cluster's writer only. Without `cluster`, the only cluster when exactly one is served.
   * @throws BackstopError `cluster.unknown` for a cluster this world does not serve, `cluster.required`
   *   when several are served and none is named.
   */
  open(run: { runId: string; incidentKey: string; cluster?: string }): Promise<OpenedWorld>;
  /** Recovery watch timeout (ms) for actions in this world. */
  recoveryTimeoutMs: number;
  signalsWindow: string;
  /** Releases what the world keeps between runs (pooled MCP connections), at worker shutdown. */
  close?(): Promise<void>;
}

/**
 * The production world from the configuration: the model router over `BACKSTOP_TARGETS` with the
 * shared budget store, mcp-infra at `BACKSTOP_INFRA_MCP_URL` (one server serving every cluster; each
 * run leases a pooled client bound to the run's cluster, see {@link McpClientPool}), the notify MCP
 * server when configured (pooled likewise), one write path
 * per cluster with its own writer credential (`writer_kubeconfig` of `BACKSTOP_CLUSTERS`, or
 * `BACKSTOP_WRITER_KUBECONFIG`), the policy, prompts and the receipt signing key
 * (`BACKSTOP_RECEIPT_KEY_FILE` or `BACKSTOP_RECEIPT_KEY`; required, never generated).
 * @throws BackstopError `config.invalid` naming what is missing (the receipt key among it);
 *   `receipt.key` when the configured key cannot be read or is not an Ed25519 PKCS#8 PEM.
 */
export async function productionWorld(config: Config, budgetStore: BudgetStore): Promise<RunWorld> {
  const missing: string[] = [];
  if (config.models.targets.length === 0) missing.push("BACKSTOP_TARGETS");
  if (!config.mcp.infraUrl) missing.push("BACKSTOP_INFRA_MCP_URL");
  const noWriter = config.clusters.filter((c) => !c.writerKubeconfig).map((c) => c.name);
  if (noWriter.length > 0)
    missing.push(
      config.clusters.length === 1
        ? "BACKSTOP_WRITER_KUBECONFIG"
        : `writer_kubeconfig for cluster(s) ${noWriter.join(", ")}`,
    );
  // Receipts are the record of what Backstop did: a worker signs them only with a key it was given,
  // never a development key it made up (the CLI's `run`/`eval`/`verify` and the demo still may).
  if (!config.receipts.keyPem?.trim() && !config.receipts.keyFile)
    missing.push("BACKSTOP_RECEIPT_KEY_FILE (the receipt signing key; or BACKSTOP_RECEIPT_KEY as PEM text)");
  if (missing.length > 0)
    throw new BackstopError("config.invalid", `the worker needs: ${missing.join(", ")}`);
  const targets = config.models.targets.map((t) => toModelTarget(t, t.apiKey));
  const router = new ModelRouter({
    mode: config.models.mode,
    targets,
    judge: config.models.judge ? toModelTarget(config.models.judge, config.models.judge.apiKey) : targets[0]!,
    dailyBudgetUsd: config.models.dailyBudgetUsd,
    cooldownMs: config.models.cooldownMs,
    loggingConfig: config.models.loggingConfig,
    store: budgetStore,
  });
  const writers = ClusterWriters.fromConfig(config.clusters, { recoveryTimeoutMs: config.recoveryTimeoutMs });
  const promptOpts = config.promptRegistryUrl ? { registryUrl: config.promptRegistryUrl } : {};
  const policy = loadPolicy(config.policyFile);
  // Never created here: a missing or unreadable key file is a `receipt.key` error at start-up.
  const signingKey = loadSigningKey({
    ...(config.receipts.keyPem ? { pem: config.receipts.keyPem } : {}),
    ...(config.receipts.keyFile ? { path: config.receipts.keyFile } : {}),
    create: false,
  });
  const infraPool = new McpClientPool<InfraClient>((cluster) =>
    connectInfra(config.mcp.infraUrl!, { cluster }),
  );
  const notifyUrl = config.mcp.notifyUrl;
  const notifyPool = notifyUrl ? new McpClientPool<NotifyClient>(() => connectNotify(notifyUrl)) : null;
  return {
    recoveryTimeoutMs: config.recoveryTimeoutMs,
    signalsWindow: config.signalsWindow,
    async close() {
      await Promise.all([infraPool.close(), notifyPool?.close()]);
    },
    async open(run) {
      // Refuses a cluster this Backstop does not serve before anything connects.
      const actions = writers.get(run.cluster);
      const cluster = actions.cluster!;
      // Prompts are fetched per run so a registry change takes effect without a restart.
      const prompts = {
        diagnosis: await loadPrompt("diagnosis", promptOpts),
        judge: await loadPrompt("judge", promptOpts),
      };
      const { clients, release } = await leaseAll({
        infra: { pool: infraPool, key: cluster },
        notify: notifyPool && { pool: notifyPool, key: "notify" },
      });
      const { infra, notify } = clients;
      return {
        deps: { signals: infra, router, actions, tickets: notify, policy, prompts, signingKey },
        reporters: [],
        close: async () => release(),
      };
    },
  };
}
