import type { HealthProfile } from "../../scenarios/schema.js";
import { parseDuration } from "./util.js";
import type { World } from "./world.js";

/**
 * The Prometheus HTTP API subset the sandbox serves (`GET`/`POST /api/v1/query`,
 * https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries): exactly the query forms of
 * `src/contracts/promql.ts`, recognised by regex and answered from the workloads' health profiles.
 */

/** An instant-query answer in Prometheus' envelope; `httpStatus` is what to send. */
export interface PromAnswer {
  httpStatus: number;
  body:
    | {
        status: "success";
        data: {
          resultType: "vector";
          result: Array<{ metric: Record<string, string>; value: [number, string] }>;
        };
      }
    | { status: "error"; errorType: string; error: string };
}

const LABEL = `"([^"]*)"`;
const ERROR_RATIO = new RegExp(
  `^sum\\(rate\\(http_requests_total\\{namespace=${LABEL},service=${LABEL},code=~"5\\.\\."\\}\\[(\\w+)\\]\\)\\) / sum\\(rate\\(http_requests_total\\{namespace=${LABEL},service=${LABEL}\\}\\[(\\w+)\\]\\)\\)$`,
);
const P99 = new RegExp(
  `^histogram_quantile\\(0\\.99, sum by \\(le\\) \\(rate\\(http_request_duration_seconds_bucket\\{namespace=${LABEL},service=${LABEL}\\}\\[(\\w+)\\]\\)\\)\\)$`,
);
const RESTARTS = new RegExp(
  `^sum\\(increase\\(kube_pod_container_status_restarts_total\\{namespace=${LABEL},pod=~"([^"]*)"\\}\\[(\\w+)\\]\\)\\)$`,
);
const MAX_UNAVAILABLE = new RegExp(
  `^max_over_time\\(kube_deployment_status_replicas_unavailable\\{namespace=${LABEL},deployment=${LABEL}\\}\\[(\\w+)\\]\\)$`,
);

/** Default request error ratio per health state (0..1). */
function errorRatioOf(p: HealthProfile): number {
  if (p.error_ratio !== undefined) return p.error_ratio;
  return p.state === "error" ? 0.35 : p.state === "healthy" || p.state === "slow" ? 0.002 : 1;
}

/** Default p99 latency per health state, seconds. */
function p99Of(p: HealthProfile): number {
  if (p.p99_ms !== undefined) return p.p99_ms / 1000;
  return p.state === "slow" ? 4 : 0.12;
}

function fmt(n: number): string {
  return String(Math.round(n * 1e6) / 1e6);
}

function bad(error: string): PromAnswer {
  return { httpStatus: 400, body: { status: "error", errorType: "bad_data", error } };
}

/**
 * Parses the `time` parameter (RFC 3339 or unix seconds, fractional allowed) to ms; `now` when absent.
 * Returns undefined when malformed.
 */
export function parsePromTime(text: string | undefined, now: number): number | undefined {
  if (text === undefined || text === "") return now;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Answers one instant query at `time` (ms). Error ratio, p99 and restarts come from the pods' current state
 * (ready pods only for ratio and latency; 1.0 error ratio when a workload has pods but none ready; an empty
 * vector when there is no traffic); `max_over_time(kube_deployment_status_replicas_unavailable…)` looks at
 * which revisions were live in `[time - window, time]` and answers the replicas of a crashing or unpullable one, else 0.
 */
export function answerQuery(
  world: World,
  query: string | undefined,
  timeParam: string | undefined,
  now: number,
): PromAnswer {
  if (!query)
    return bad('invalid parameter "query": unknown position: parse error: no expression found in input');
  const at = parsePromTime(timeParam, now);
  if (at === undefined)
    return bad(`invalid parameter "time": cannot parse "${timeParam}" to a valid timestamp`);
  const ts = Math.round(at) / 1000;
  const q = query.trim();
  const vector = (result: Array<{ metric: Record<string, string>; value: number }>): PromAnswer => ({
    httpStatus: 200,
    body: {
      status: "success",
      data: {
        resultType: "vector",
        result: result.map((r) => ({ metric: r.metric, value: [ts, fmt(r.value)] })),
      },
    },
  });
  let m = ERROR_RATIO.exec(q);
  if (m) {
    const [, ns, svc, w1, ns2, svc2, w2] = m as unknown as string[];
    if (ns !== ns2 || svc !== svc2 || w1 !== w2 || parseDuration(w1!) === undefined)
      return bad(`unsupported query: ${q}`);
    const w = world.workloadForService(ns!, svc!);
    if (!w) return vector([]);
    const pods = world.workloadPods(ns!, w.name);
    if (pods.length === 0) return vector([]);
    const ready = pods.filter((p) => p.view.ready && p.view.profile);
    if (ready.length === 0) return vector([{ metric: {}, value: 1 }]);
    const ratio = ready.reduce((s, p) => s + errorRatioOf(p.view.profile!), 0) / ready.length;
    return vector([{ metric: {}, value: ratio }]);
  }
  m = P99.exec(q);
  if (m) {
    const [, ns, svc, win] = m as unknown as string[];
    if (parseDuration(win!) === undefined) return bad(`unsupported query: ${q}`);
    const w = world.workloadForService(ns!, svc!);
    if (!w) return vector([]);
    const ready = world.workloadPods(ns!, w.name).filter((p) => p.view.ready && p.view.profile);
    if (ready.length === 0) return vector([]);
    return vector([{ metric: {}, value: Math.max(...ready.map((p) => p99Of(p.view.profile!))) }]);
  }
  m = RESTARTS.exec(q);
  if (m) {
    const [, ns, podRe, win] = m as unknown as string[];
    const windowMs = parseDuration(win!);
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${podRe})$`);
    } catch {
      return bad(`invalid regular expression in query: ${podRe}`);
    }
    if (windowMs === undefined) return bad(`unsupported query: ${q}`);
    const pods = world.podsMatching(ns!, re);
    if (pods.length === 0) return vector([]);
    let total = 0;
    for (const p of pods) {
      const nowRestarts = world.restartsAt(ns!, p.name, at);
      const from = at - windowMs;
      total += p.created >= from ? nowRestarts : nowRestarts - world.restartsAt(ns!, p.name, from);
    }
    return vector([{ metric: {}, value: total }]);
  }
  m = MAX_UNAVAILABLE.exec(q);
  if (m) {
    const [, ns, deploy, win] = m as unknown as string[];
    const windowMs = parseDuration(win!);
    if (windowMs === undefined) return bad(`unsupported query: ${q}`);
    const timeline = world.timeline(ns!, deploy!);
    const w = world.scenario.cluster.workloads.find((x) => x.namespace === ns && x.name === deploy);
    if (!w || timeline.length === 0) return vector([]);
    let max: number | undefined;
    timeline.forEach((entry, i) => {
      const end = timeline[i + 1]?.at ?? Number.POSITIVE_INFINITY;
      if (entry.at > at || end <= at - windowMs) return;
      const profile = world.profileFor(w, entry.image);
      const ok =
        profile !== undefined &&
        (profile.state === "healthy" || profile.state === "error" || profile.state === "slow");
      // Health that changes over time: unavailable only from `healthy_for_minutes` after the deploy.
      const failFrom = entry.at + (profile?.healthy_for_minutes ?? 0) * 60_000;
      const value = ok || failFrom > at || failFrom >= end ? 0 : entry.replicas;
      max = Math.max(max ?? 0, value);
    });
    if (max === undefined) return vector([]);
    return vector([{ metric: { namespace: ns!, deployment: deploy! }, value: max }]);
  }
  return bad(`unsupported query (the sandbox answers only the forms in src/contracts/promql.ts): ${q}`);
}
