import type { RuleResult } from "../contracts/events.js";

/**
 * The gates' rules as tables: each rule is a named, pure function over one context object, and a gate
 * runs its table in a fixed order. Adding or changing one rule touches one function.
 */

/** What a rule function decides: pass/fail and a one-line human-readable reason. */
export interface RuleOutcome {
  passed: boolean;
  detail: string;
}

/**
 * One named rule of a gate: `id` is the stable rule id a receipt and `APPROVABLE_RULES` name; `check`
 * is pure, never throws, and returns a {@link RuleResult} with `rule === id`.
 */
export interface NamedRule<C> {
  readonly id: string;
  check(ctx: C): RuleResult;
}

/** Builds a {@link NamedRule} from an id and a function deciding the {@link RuleOutcome}. */
export function namedRule<C>(id: string, decide: (ctx: C) => RuleOutcome): NamedRule<C> {
  return { id, check: (ctx) => ({ rule: id, ...decide(ctx) }) };
}

/** `{ passed, detail }` in one call (the rule functions' usual last line). */
export function outcome(passed: boolean, detail: string): RuleOutcome {
  return { passed, detail };
}

/** A {@link RuleResult} for a rule id outside a table (the judge, the dry-run). */
export function ruleResult(id: string, passed: boolean, detail: string): RuleResult {
  return { rule: id, passed, detail };
}

/** Runs every rule of `table` over `ctx`, in table order; one result per rule. Never throws. */
export function runRules<C>(table: readonly NamedRule<C>[], ctx: C): RuleResult[] {
  return table.map((r) => r.check(ctx));
}
