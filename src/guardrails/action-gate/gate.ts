import type { Diagnosis } from "../../contracts/diagnosis.js";
import type { Signals } from "../../contracts/signals.js";
import { errorMessage } from "../../errors.js";
import type { Policy } from "../policy.js";
import { ruleResult as rule } from "../rule-table.js";
import { checkActionRules } from "./rules.js";
import type { ActionGateContext, ActionVerdict, DryRunFn } from "./types.js";

/**
 * The whole action gate: {@link checkActionRules}, then — only when every rule passed and there is an
 * action — the injected server-side dry-run as rule `server_dry_run` (a throw or `ok: false` fails it).
 * When a rule already failed the dry-run is skipped and not listed. Never throws.
 */
export async function runActionGate(
  d: Diagnosis,
  s: Signals,
  policy: Policy,
  ctx: ActionGateContext & { dryRun: DryRunFn },
): Promise<ActionVerdict> {
  const { rules, action } = checkActionRules(d, s, policy, ctx);
  if (!action || !rules.every((r) => r.passed)) return { passed: false, action, rules };
  let dry: { ok: boolean; error: string | null };
  try {
    dry = await ctx.dryRun(action);
  } catch (err) {
    dry = { ok: false, error: errorMessage(err) };
  }
  const ok = dry.ok === true;
  rules.push(
    rule(
      "server_dry_run",
      ok,
      ok
        ? "the API server accepted the change (dryRun=All)"
        : `dry-run refused: ${dry.error ?? "no reason given"}`,
    ),
  );
  return { passed: ok, action, rules };
}
