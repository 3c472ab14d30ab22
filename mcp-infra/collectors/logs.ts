import type { V1Pod } from "@kubernetes/client-node";
import type { LogTail, PodSignal } from "../../src/contracts/signals.js";
import { errorMessage } from "../../src/errors.js";
import { apiStatus } from "../k8s.js";
import type { InfraContext } from "./context.js";
import { cut, LIMITS } from "./limits.js";
import { podFailing } from "./pods.js";
import { type SanitizeTally, sanitizeTexts } from "./sanitize.js";

/**
 * The log tails of up to `LIMITS.logPods` failing pods (of the running pods when none fails): each from
 * the container that is waiting, terminated or not ready (its previous instance when it terminated; the
 * running one when the API has no previous), read with `LIMITS.logContextLines` of context, sanitized as ONE
 * text (multi-line secrets), then cut to the last `LIMITS.logLines` lines of `LIMITS.logLineChars` chars
 * and `LIMITS.logBytes` in all. Best effort: unreadable logs and every cut are named in `truncated`;
 * redaction counts go into `tally`.
 * @throws BackstopError `redact.secretlint` if the secret scanner fails.
 */
export async function collectLogs(
  ctx: InfraContext,
  namespace: string,
  rawPods: V1Pod[],
  pods: PodSignal[],
  truncated: string[],
  tally: SanitizeTally,
): Promise<LogTail[]> {
  const { apis } = ctx;
  // Failing pods' logs; when no pod is failing (Ready pods serving errors), the running pods' logs.
  const failingPods = pods.filter(podFailing);
  const failing = failingPods.length > 0 ? failingPods : pods;
  const chosen = failing.slice(0, LIMITS.logPods);
  if (failing.length > chosen.length)
    truncated.push(
      `logs: showing ${chosen.length} of ${failing.length} ${failingPods.length > 0 ? "failing" : "running"} pods`,
    );
  const fetched = await Promise.all(
    chosen.map(async (p) => {
      const raw = rawPods.find((x) => x.metadata?.name === p.name);
      const statuses = raw?.status?.containerStatuses ?? [];
      const bad =
        statuses.find((s) => s.state?.waiting || s.lastState?.terminated || !s.ready) ??
        statuses[0] ??
        undefined;
      const container = bad?.name ?? raw?.spec?.containers[0]?.name ?? "";
      const previous = Boolean(bad?.lastState?.terminated);
      const read = (prev: boolean) =>
        apis.core.readNamespacedPodLog(
          {
            name: p.name,
            namespace,
            container,
            previous: prev,
            tailLines: LIMITS.logContextLines + LIMITS.logLines + 1,
          },
          apis.opts,
        );
      try {
        let text: string;
        let prev = previous;
        try {
          text = await read(previous);
        } catch (err) {
          // No previous instance (400 from the API): fall back to the running container's log.
          if (!previous || apiStatus(err) !== 400) throw err;
          prev = false;
          text = await read(false);
        }
        return { pod: p.name, container, previous: prev, text };
      } catch (err) {
        truncated.push(
          `logs: ${p.name}/${container} unavailable (${cut(errorMessage(err).split("\n")[0] ?? "", 200)})`,
        );
        return null;
      }
    }),
  );
  let budget: number = LIMITS.logBytes;
  const tails: LogTail[] = [];
  // Redact each container's log as ONE text (multi-line secrets), then split, then bound.
  const read = fetched.filter((f) => f !== null);
  const texts = await sanitizeTexts(
    read.map((f) => f.text),
    tally,
  );
  for (const [i, f] of read.entries()) {
    const text = texts[i] as string;
    let lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    let cutSomething = false;
    if (lines.length > LIMITS.logLines) {
      lines = lines.slice(-LIMITS.logLines);
      cutSomething = true;
    }
    const kept: string[] = [];
    for (const line of lines) {
      const l = cut(line, LIMITS.logLineChars);
      if (l !== line) cutSomething = true;
      const bytes = Buffer.byteLength(l, "utf8") + 1;
      if (bytes > budget) {
        cutSomething = true;
        truncated.push(`logs: ${LIMITS.logBytes} bytes total reached at ${f.pod}`);
        budget = 0;
        break;
      }
      budget -= bytes;
      kept.push(l);
    }
    tails.push({
      pod: f.pod,
      container: f.container,
      previous: f.previous,
      lines: kept,
      truncated: cutSomething,
    });
    if (cutSomething && !truncated.some((t) => t.includes(f.pod))) {
      truncated.push(
        `logs: ${f.pod}/${f.container} cut to the last ${LIMITS.logLines} lines of ${LIMITS.logLineChars} chars`,
      );
    }
    if (budget === 0) break;
  }
  return tails;
}
