import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Scenario } from "../../scenarios/schema.js";
import type { Config, TargetConfig } from "../../src/config.js";
import { BackstopError } from "../../src/errors.js";
import { loadPolicy } from "../../src/guardrails/policy.js";
import { JUDGE_MODES, type JudgeMode } from "../../src/guardrails/quality.js";
import { loadPrompt } from "../../src/prompts/loader.js";
import { loadSigningKey, type SigningKey } from "../../src/receipt/index.js";
import type { HarnessOptions } from "../harness.js";
import type { LiveUpstream } from "../model/provider.js";

/**
 * The sandbox commands' receipt key: the configured one (`BACKSTOP_RECEIPT_KEY` PEM text or
 * `BACKSTOP_RECEIPT_KEY_FILE`), else the development key outside the work tree, created on first use
 * (`~/.config/backstop/receipt-ed25519.pem`). The worker never does this: it requires a configured key.
 * @throws BackstopError `receipt.key` when the configured key is missing, unreadable or not Ed25519.
 */
export function sandboxSigningKey(config: Config): SigningKey {
  return loadSigningKey({
    ...(config.receipts.keyPem ? { pem: config.receipts.keyPem } : {}),
    ...(config.receipts.keyFile ? { path: config.receipts.keyFile } : {}),
    create: !config.receipts.keyPem && !config.receipts.keyFile,
  });
}

/** Harness inputs from the configuration: signing key, receipts folder, policy, prompts (registry or local). */
export async function harnessOptions(config: Config, receiptsDir?: string): Promise<HarnessOptions> {
  const signingKey = sandboxSigningKey(config);
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

/**
 * Parses `--judge`: `model` (the scenario's judge model, scripted in the sandbox) or `always-grounded`
 * (a judge that approves everything; recorded on the receipt as the judge model `always-grounded`).
 * @throws BackstopError `cli.invalid` naming the accepted values.
 */
export function parseJudgeMode(value: string | undefined): JudgeMode {
  const v = value ?? "model";
  if (!(JUDGE_MODES as readonly string[]).includes(v)) {
    throw new BackstopError("cli.invalid", `--judge must be ${JUDGE_MODES.join(" or ")}; got "${v}"`);
  }
  return v as JudgeMode;
}

/**
 * `--model-log FILE`: starts FILE empty (creating its folder) so it holds this command's sandbox model
 * requests as JSON Lines. Returns the absolute path.
 * @throws BackstopError `cli.invalid` when the file cannot be written.
 */
export function prepareModelLog(file: string): string {
  const path = resolve(file);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, "");
  } catch (err) {
    throw new BackstopError("cli.invalid", `--model-log: cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return path;
}
