import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadScenario } from "../../scenarios/schema.js";
import type { SandboxOpts } from "../../src/cli/sandbox-commands.js";
import { connectInfra } from "../../src/mcp/index.js";
import { targetFromWebhook } from "../../src/pipeline/target.js";
import { startSandboxStack } from "../stack.js";

/**
 * `backstop sandbox --scenario FILE`: starts the sandbox cluster (with its Prometheus API), the model
 * provider, mcp-infra and the tickets MCP server on loopback, prints their URLs, writes kubeconfigs for
 * the three sandbox users, shows `get_signals` for the alert's workload, and runs until Ctrl-C.
 */
export async function sandboxCommand(opts: SandboxOpts): Promise<void> {
  const scenario = loadScenario(opts.scenario);
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const modelLog = join(dir, "model-requests.jsonl");
  const stack = await startSandboxStack({ scenario, modelLog });
  const files: Record<string, string> = {};
  for (const user of ["readonly", "writer", "admin"] as const) {
    const file = join(dir, user === "readonly" ? "kubeconfig" : `kubeconfig-${user}`);
    writeFileSync(file, stack.cluster.kubeconfigYaml(user), { mode: 0o600 });
    files[user] = file;
  }
  console.log(`Backstop sandbox: ${scenario.title}`);
  console.log(
    `  Kubernetes API  ${stack.cluster.httpsUrl}   (KUBECONFIG=${files.readonly}; writer: ${files.writer}; admin: ${files.admin})`,
  );
  console.log(`                  kubectl --kubeconfig ${files.readonly} get pods -A`);
  console.log(`  Prometheus      ${stack.cluster.url}/api/v1/query`);
  console.log(
    `  model provider  ${stack.models.url}   (OpenAI Chat Completions; requests logged to ${modelLog})`,
  );
  console.log(`  mcp-infra       ${stack.infraUrl}   (read-only MCP over streamable HTTP)`);
  console.log(`  tickets MCP     ${stack.tickets.url}`);

  const { target } = targetFromWebhook(scenario.alert);
  const infra = await connectInfra(stack.infraUrl);
  try {
    const s = await infra.getSignals(target.namespace, target.workload, "15m");
    console.log(`\nget_signals ${target.namespace}/${target.workload}:`);
    for (const p of s.pods) {
      console.log(
        `  pod ${p.name}  ready=${p.ready} restarts=${p.restarts} ${p.waiting_reason ?? ""} ${p.last_termination_reason ?? ""}`,
      );
    }
    for (const r of s.rollout_history) {
      console.log(
        `  revision ${r.revision}  sha=${r.sha} ${r.health}${r.current ? " (current)" : ""}  deployed ${r.deployed_at}`,
      );
    }
    for (const l of s.logs.slice(0, 1)) {
      console.log(`  logs of ${l.pod}:`);
      for (const line of l.lines.slice(-8)) console.log(`    ${line}`);
    }
  } finally {
    await infra.close();
  }
  console.log("\nCtrl-C stops everything.");
  await new Promise<void>((done) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      done();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await stack.close();
}
