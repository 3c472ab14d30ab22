import { resolve } from "node:path";
import { loadPrompt } from "../../prompts/loader.js";
import type { HarnessOptions } from "../../sandbox/harness.js";
import type { LiveUpstream } from "../../sandbox/model/provider.js";
import type { Scenario } from "../../scenarios/schema.js";
import type { Config, TargetConfig } from "../config.js";
import { BackstopError } from "../errors.js";
import { loadPolicy } from "../guardrails/policy.js";
import { loadSigningKey } from "../receipt/index.js";

/** Harness inputs from the configuration: signing key, receipts folder, policy, prompts (registry or local). */
export async function harnessOptions(config: Config, receiptsDir?: string): Promise<HarnessOptions> {
  const signingKey = loadSigningKey({
    ...(config.receipts.keyPem ? { pem: config.receipts.keyPem } : {}),
    ...(config.receipts.keyFile ? { path: config.receipts.keyFile } : {}),
    create: !config.receipts.keyPem && !config.receipts.keyFile,
  });
  const promptOpts = config.promptRegistryUrl ? { registryUrl: config.promptRegistryUrl } : {};
  return {
    signingKey,
    receiptsDir: resolve(receiptsDir ?? config.receipts.dir),
    policy: loadPolicy(config.policyFile),
    prompts: {
      diagnosis: await loadPrompt("diagnosis", promptOpts),
      judge: await loadPrompt("judge", promptOpts),
    },
  };
}

/**
 * `--live`: maps each scenario model to a configured real target — the n-th model of the scenario's
 * chain to the n-th of `BACKSTOP_TARGETS` (the last one past the end), the judge to
 * `BACKSTOP_JUDGE_TARGET` (else the first target) — so the calls past the script reach real models.
 * @throws BackstopError `cli.invalid` when no target is configured.
 */
export function liveUpstreams(
  scenario: Scenario,
  config: Config,
): (model: string, purpose: string) => LiveUpstream | null {
  const targets = config.models.targets;
  if (targets.length === 0) {
    throw new BackstopError(
      "cli.invalid",
      "--live needs BACKSTOP_TARGETS (see the README) to know the real models",
    );
  }
  const up = (t: TargetConfig): LiveUpstream => ({
    baseURL: t.base_url,
    apiKey: t.apiKey,
    model: t.model,
    timeoutMs: t.timeout_ms,
  });
  const judge = config.models.judge ?? targets[0]!;
  return (model, purpose) => {
    if (purpose === "judge") return up(judge);
    const i = scenario.models.chain.findIndex((t) => t.model === model);
    return i < 0 ? null : up(targets[Math.min(i, targets.length - 1)]!);
  };
}
