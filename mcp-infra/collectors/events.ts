import type { CoreV1Event } from "@kubernetes/client-node";
import type { EventSignal } from "../../src/contracts/signals.js";
import { errorMessage } from "../../src/errors.js";
import { iso } from "../k8s.js";
import type { InfraContext } from "./context.js";
import { cut, LIMITS } from "./limits.js";

/**
 * The events of `objectNames` in `namespace` (one list per object, by `involvedObject.name`), deduplicated
 * by uid, warnings first then newest first, at most `LIMITS.events`. Messages are FULL: callers sanitize,
 * then cut them to `LIMITS.eventMessageChars`. Best effort: lists that fail, and the cut, are named in
 * `truncated`. Never throws.
 */
export async function collectEvents(
  ctx: InfraContext,
  namespace: string,
  objectNames: string[],
  truncated: string[],
): Promise<EventSignal[]> {
  const { apis } = ctx;
  const names = [...new Set(objectNames.filter(Boolean))];
  const results = await Promise.allSettled(
    names.map((n) =>
      apis.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${n}` }, apis.opts),
    ),
  );
  const all: CoreV1Event[] = [];
  let failed = 0;
  let firstError = "";
  for (const r of results) {
    if (r.status === "fulfilled") all.push(...r.value.items);
    else {
      failed++;
      firstError ||= errorMessage(r.reason).split("\n")[0] ?? "";
    }
  }
  if (failed > 0)
    truncated.push(`events: ${failed} of ${names.length} event lists unavailable (${cut(firstError, 200)})`);
  const seen = new Set<string>();
  const mapped = all
    .filter((e) => {
      const uid = e.metadata?.uid ?? `${e.metadata?.name}`;
      if (seen.has(uid)) return false;
      seen.add(uid);
      return true;
    })
    .map(
      (e): EventSignal => ({
        type: e.type ?? "Normal",
        reason: e.reason ?? "",
        // Full text: collectSignals sanitizes it, then cuts it to LIMITS.eventMessageChars.
        message: e.message ?? "",
        object: `${e.involvedObject.kind ?? ""}/${e.involvedObject.name ?? ""}`,
        count: e.count ?? e.series?.count ?? 1,
        last_seen: iso(
          e.lastTimestamp ?? e.series?.lastObservedTime ?? e.eventTime ?? e.metadata?.creationTimestamp,
        ),
      }),
    )
    // Warnings (BackOff, FailedScheduling, Unhealthy) first, then newest first: the cap keeps the evidence.
    .sort(
      (a, b) =>
        Number(b.type === "Warning") - Number(a.type === "Warning") ||
        (b.last_seen ?? "").localeCompare(a.last_seen ?? ""),
    );
  const events = mapped.slice(0, LIMITS.events);
  if (mapped.length > events.length) {
    truncated.push(`events: showing ${events.length} of ${mapped.length} (warnings first, then newest)`);
  }
  return events;
}
