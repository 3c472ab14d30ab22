import { z } from "zod";

/**
 * One model endpoint the router may call, the single definition of a model target: an
 * OpenAI-compatible Chat Completions API at `baseURL` (ending in `/v1`), `model` as the API names it,
 * `apiKey` already read from the env var the config names (undefined: the target is skipped with reason
 * `no_api_key`). `tier` 1 is tried first; higher tiers are stronger. Prices are USD per 1M input/output
 * tokens; `timeoutMs` bounds one HTTP request (ms); `rpm` is an optional requests-per-minute limit
 * enforced by the router. `headers` are sent with every request to this target, e.g. Portkey's
 * `x-portkey-config` (docs/gateways.md); they never override the router's `X-TFY-*` headers.
 *
 * The configuration form ({@link ModelTargetConfigSchema}) and the scenario form
 * (`scenarios/schema.ts`) reuse these field rules under snake_case names; {@link toModelTarget} turns
 * either into this shape.
 */
export const ModelTargetSchema = z.object({
  name: z.string().min(1),
  baseURL: z.url(),
  model: z.string().min(1),
  apiKey: z.string().optional(),
  tier: z.number().int().min(1),
  inputUsdPerMTok: z.number().nonnegative(),
  outputUsdPerMTok: z.number().nonnegative(),
  timeoutMs: z.number().int().positive(),
  rpm: z.number().int().positive().optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

/** A model target as the router takes it (see {@link ModelTargetSchema}). */
export type ModelTarget = z.infer<typeof ModelTargetSchema>;

const T = ModelTargetSchema.shape;

/**
 * A model target as written in `BACKSTOP_TARGETS` / `BACKSTOP_JUDGE_TARGET` (JSON, snake_case):
 * `{ name, base_url, model, api_key_env?, tier?, input_usd_per_mtok?, output_usd_per_mtok?, timeout_ms?,
 * rpm?, headers? }`. Same rules as {@link ModelTargetSchema}; defaults: `api_key_env` `OPENAI_API_KEY`,
 * `tier` 1, prices 0, `timeout_ms` 20000. The key itself is never in the file: `api_key_env` names the
 * environment variable holding it.
 */
export const ModelTargetConfigSchema = z.object({
  name: T.name,
  base_url: T.baseURL,
  model: T.model,
  api_key_env: z.string().default("OPENAI_API_KEY"),
  tier: T.tier.default(1),
  input_usd_per_mtok: T.inputUsdPerMTok.default(0),
  output_usd_per_mtok: T.outputUsdPerMTok.default(0),
  timeout_ms: T.timeoutMs.default(20_000),
  rpm: T.rpm,
  headers: T.headers,
});

/** A parsed configuration target (defaults applied; see {@link ModelTargetConfigSchema}). */
export type ModelTargetConfig = z.infer<typeof ModelTargetConfigSchema>;

/**
 * The router's {@link ModelTarget} from the snake_case form (a configuration or scenario target):
 * `base_url` → `baseURL`, prices and `timeout_ms` renamed, `rpm`/`headers` kept when present. `apiKey`
 * is the key itself (read by the caller from the variable `api_key_env` names), possibly undefined.
 * Never throws; does not re-validate.
 */
export function toModelTarget(
  t: Pick<
    ModelTargetConfig,
    "name" | "base_url" | "model" | "tier" | "input_usd_per_mtok" | "output_usd_per_mtok" | "timeout_ms"
  > &
    Partial<Pick<ModelTargetConfig, "rpm" | "headers">>,
  apiKey: string | undefined,
): ModelTarget & { apiKey: string | undefined } {
  return {
    name: t.name,
    baseURL: t.base_url,
    model: t.model,
    apiKey,
    tier: t.tier,
    inputUsdPerMTok: t.input_usd_per_mtok,
    outputUsdPerMTok: t.output_usd_per_mtok,
    timeoutMs: t.timeout_ms,
    ...(t.rpm !== undefined ? { rpm: t.rpm } : {}),
    ...(t.headers ? { headers: t.headers } : {}),
  };
}
