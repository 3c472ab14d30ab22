import { z } from "zod";
import { type ModelTargetConfig, ModelTargetConfigSchema } from "../contracts/model-target.js";
import { BackstopError, formatZodIssues } from "../errors.js";
import { readJsonOrFile } from "./json-source.js";

/** A configured model target: the file form (defaults applied) and the key read from `api_key_env`. */
export type TargetConfig = ModelTargetConfig & { apiKey: string | undefined };

/**
 * The targets of `BACKSTOP_TARGETS` / `BACKSTOP_JUDGE_TARGET` (`what` names which): a JSON array, one
 * object, or a path to a file holding either, each entry a {@link ModelTargetConfigSchema}; each
 * target's key is `env[api_key_env]`. Unset or blank: no targets.
 * @throws BackstopError `config.invalid` for an unreadable file, bad JSON, an empty list or a bad
 *   entry (named as `<what>[<index>.<field>]`).
 */
export function parseTargets(raw: string | undefined, env: NodeJS.ProcessEnv, what: string): TargetConfig[] {
  if (raw === undefined || raw.trim() === "") return [];
  const json = readJsonOrFile(raw, what);
  const list = z
    .array(ModelTargetConfigSchema)
    .min(1)
    .safeParse(Array.isArray(json) ? json : [json]);
  if (!list.success) throw new BackstopError("config.invalid", formatZodIssues(list.error, { prefix: what }));
  return list.data.map((t) => ({ ...t, apiKey: env[t.api_key_env] }));
}
