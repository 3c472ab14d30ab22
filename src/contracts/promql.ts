/**
 * The PromQL queries mcp-infra issues against the Prometheus HTTP API (`GET /api/v1/query`), in one place
 * so the sandbox answers exactly these forms. Metric names are the common ones: `http_requests_total`
 * and `http_request_duration_seconds_bucket` (instrumented services, label `service`), and
 * kube-state-metrics' `kube_pod_container_status_restarts_total` and
 * `kube_deployment_status_replicas_unavailable`.
 * Durations use Prometheus' syntax (`15m`, `1h`); see https://prometheus.io/docs/prometheus/latest/querying/basics/.
 */

/** Ratio (0..1) of 5xx responses over `window` for a service. */
export function errorRatioQuery(namespace: string, service: string, window: string): string {
  const sel = `namespace="${namespace}",service="${service}"`;
  return `sum(rate(http_requests_total{${sel},code=~"5.."}[${window}])) / sum(rate(http_requests_total{${sel}}[${window}]))`;
}

/** p99 latency in seconds over `window` for a service. */
export function p99LatencyQuery(namespace: string, service: string, window: string): string {
  return `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="${namespace}",service="${service}"}[${window}])))`;
}

/** Container restarts over `window` summed over a workload's pods (pods named `<workload>-...`). */
export function restartsQuery(namespace: string, workload: string, window: string): string {
  return `sum(increase(kube_pod_container_status_restarts_total{namespace="${namespace}",pod=~"${workload}-.*"}[${window}]))`;
}

/**
 * Most unavailable replicas of a Deployment over `window`, evaluated at a past instant (`time=` param):
 * used to tell whether an earlier revision was healthy while it was live (0 means healthy).
 */
export function maxUnavailableQuery(namespace: string, deployment: string, window: string): string {
  return `max_over_time(kube_deployment_status_replicas_unavailable{namespace="${namespace}",deployment="${deployment}"}[${window}])`;
}
