import { z } from "zod";
import type { Diagnosis } from "../../contracts/diagnosis.js";
import type { Signals } from "../../contracts/signals.js";
import { errorMessage } from "../../errors.js";
import type { LoadedPrompt } from "../../prompts/loader.js";
import { ruleResult as rule } from "../rule-table.js";
import { checkQualityRules } from "./rules.js";
import {
  QUALITY_DEFAULTS as DEFAULTS,
  type JudgeFn,
  type QualityGateOptions,
  type QualityVerdict,
} from "./types.js";

const JudgeReplySchema = z.object({ grounded: z.boolean(), reason: z.string(), model: z.string() });

/**
 * The whole quality gate: {@link checkQualityRules}, then (unless a rule failed and
 * `judgeWhenRulesFail` is false) the injected judge, bounded by `judgeTimeoutMs`. Fail-closed: a judge
 * that throws, times out or returns something that is not `{grounded: boolean, reason, model}` sets
 * `judge.error`, `judge.grounded: null`, and fails the gate; the rule `judge_grounded` is added whenever
 * the judge was asked. Never throws.
 */
export async function runQualityGate(
  d: Diagnosis,
  s: Signals,
  ctx: { onset: Date; alertText?: string; judge: JudgeFn; prompt: LoadedPrompt },
  opts: QualityGateOptions = {},
): Promise<QualityVerdict> {
  const rules = checkQualityRules(d, s, ctx, opts);
  const rulesPassed = rules.every((r) => r.passed);
  if (!rulesPassed && !opts.judgeWhenRulesFail) return { passed: false, rules, judge: null };

  const timeoutMs = opts.judgeTimeoutMs ?? DEFAULTS.judgeTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  let judge: NonNullable<QualityVerdict["judge"]>;
  try {
    const reply: unknown = await Promise.race([
      ctx.judge({ diagnosis: d, signals: s, prompt: ctx.prompt }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`judge timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const parsed = JudgeReplySchema.safeParse(reply);
    if (!parsed.success) {
      judge = {
        model: modelOf(reply),
        grounded: null,
        reason: "",
        error: "judge reply is not {grounded, reason, model}",
      };
    } else {
      judge = {
        model: parsed.data.model,
        grounded: parsed.data.grounded,
        reason: parsed.data.reason,
        error: null,
      };
    }
  } catch (err) {
    judge = { model: "unknown", grounded: null, reason: "", error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
  const ok = judge.error === null && judge.grounded === true;
  rules.push(
    rule(
      "judge_grounded",
      ok,
      judge.error !== null
        ? `judge failed (fail-closed): ${judge.error}`
        : `${judge.model}: ${judge.grounded ? "grounded" : "not grounded"}: ${judge.reason}`,
    ),
  );
  return { passed: rulesPassed && ok, rules, judge };
}

function modelOf(reply: unknown): string {
  if (reply && typeof reply === "object" && "model" in reply && typeof reply.model === "string")
    return reply.model;
  return "unknown";
}

/** The judge model name `alwaysGroundedJudge` reports, so a receipt shows the judge was not a model. */
export const ALWAYS_GROUNDED_MODEL = "always-grounded";

/**
 * A judge that calls every diagnosis grounded without looking at it (`--judge always-grounded`): the
 * worst judge there is, a stand-in for one a prompt injection fooled. With it the deterministic rules
 * and the action gate stand alone. It reports the model {@link ALWAYS_GROUNDED_MODEL} and makes no call.
 */
export const alwaysGroundedJudge: JudgeFn = async () => ({
  grounded: true,
  reason: "always-grounded: this judge approves every diagnosis without reading it (test mode)",
  model: ALWAYS_GROUNDED_MODEL,
});

/**
 * The judges `backstop run` and `backstop eval` know: `model` (the judge target: scripted per scenario in
 * the sandbox, a real model with `--live`) or `always-grounded` ({@link alwaysGroundedJudge}).
 */
export const JUDGE_MODES = ["model", "always-grounded"] as const;
/** One of {@link JUDGE_MODES}. */
export type JudgeMode = (typeof JUDGE_MODES)[number];
