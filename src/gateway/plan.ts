import type { BudgetStore } from "./store.js";
import type { CompletionRequest, ModelTarget, RouterOptions } from "./types.js";

/** One target the router will try, and why it has its place (recorded on `model.call` as `route`). */
export interface Planned {
  target: ModelTarget;
  why: string;
  /** The target's recent latency (EWMA, ms) from the store, or null when unsampled. */
  ewma: number | null;
}

/**
 * Targets to try, in order, each with why it has its place: the judge alone; otherwise every target
 * with `tier >= minTier`, lowest tier first, and within a tier by recent latency (EWMA from the store):
 * unsampled targets first in config order (so each gets measured), then fastest first, ties in config
 * order. With `latencyRouting: false` the configured order is kept within a tier.
 */
export async function planTargets(
  opts: Pick<RouterOptions, "judge" | "targets" | "latencyRouting">,
  store: BudgetStore,
  req: Pick<CompletionRequest, "purpose" | "minTier">,
): Promise<Planned[]> {
  if (req.purpose === "judge") {
    const [ewma] = await store.latencies([opts.judge.name]);
    return [{ target: opts.judge, why: "the judge target (no chain)", ewma: ewma ?? null }];
  }
  const minTier = req.minTier ?? 1;
  const eligible = opts.targets.map((t, i) => ({ t, i })).filter(({ t }) => t.tier >= minTier);
  const routing = opts.latencyRouting ?? true;
  const lat = eligible.length > 0 ? await store.latencies(eligible.map(({ t }) => t.name)) : [];
  const rows = eligible.map(({ t, i }, k) => ({ t, i, ewma: lat[k] ?? null }));
  const key = (r: { ewma: number | null }) => (!routing || r.ewma === null ? -1 : r.ewma);
  rows.sort((a, b) => a.t.tier - b.t.tier || key(a) - key(b) || a.i - b.i);
  return rows.map((r) => {
    const peers = rows.filter((x) => x.t.tier === r.t.tier);
    const rank = peers.indexOf(r) + 1;
    let why: string;
    if (peers.length === 1) why = `tier ${r.t.tier}: the only eligible target in its tier`;
    else if (!routing) why = `tier ${r.t.tier}: position ${rank} of ${peers.length} in configured order`;
    else if (r.ewma === null)
      why = `tier ${r.t.tier}: no recent latency sample, tried before measured targets (rank ${rank} of ${peers.length})`;
    else
      why = `tier ${r.t.tier}: recent latency ${Math.round(r.ewma)} ms (EWMA), rank ${rank} of ${peers.length} (${peers
        .filter((x) => x !== r)
        .map((x) => `${x.t.name} ${x.ewma === null ? "unsampled" : `${Math.round(x.ewma)} ms`}`)
        .join(", ")})`;
    return { target: r.t, why, ewma: r.ewma };
  });
}

/**
 * Whether a target after position `i` of `plan` could still be called at `nowMs`: it has a key and is
 * not cooled down (per the store).
 */
export async function availableAfter(
  store: BudgetStore,
  nowMs: number,
  plan: readonly Planned[],
  i: number,
): Promise<boolean> {
  for (const p of plan.slice(i + 1)) {
    if (!p.target.apiKey) continue;
    const until = await store.cooldownUntil(p.target.name);
    if (until === null || until <= nowMs) return true;
  }
  return false;
}
