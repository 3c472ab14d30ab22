import { resolve } from "node:path";
import { loadPrompt } from "../../prompts/loader.js";
import type { HarnessOptions } from "../../sandbox/harness.js";
import type { Config } from "../config.js";
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
