import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { LiveWorkload } from "../../mcp-infra/collectors/context.js";
import { collectMetrics } from "../../mcp-infra/collectors/metrics.js";
import { boundPods } from "../../mcp-infra/collectors/pods.js";
import { revisionResolver } from "../../mcp-infra/collectors/rollout-history.js";
import {
  boundedAnnotations,
  LIMITS,
  newTally,
  sanitizeTexts,
  selectAnnotations,
} from "../../mcp-infra/signals.js";
import { redactText } from "../../src/guardrails/redact.js";
import { stripInvisible } from "../../src/guardrails/untrusted.js";

// The collectors one by one, over plain API objects: what each keeps, in what order, and what it names
// in `truncated` when it cuts.

function rawPod(
  name: string,
  opts: { ready: boolean; waiting?: string; hash?: string; owner?: string },
): V1Pod {
  return {
    metadata: {
      name,
      labels: opts.hash ? { "pod-template-hash": opts.hash } : {},
      ...(opts.owner
        ? { ownerReferences: [{ kind: "ReplicaSet", name: opts.owner, apiVersion: "apps/v1", uid: "u" }] }
        : {}),
    },
    spec: { containers: [{ name: "api", image: "ghcr.io/acme/api:1" }] },
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: opts.ready ? "True" : "False" }],
      containerStatuses: [
        {
          name: "api",
          image: "ghcr.io/acme/api:1",
          imageID: "",
          ready: opts.ready,
          restartCount: 0,
          ...(opts.waiting ? { state: { waiting: { reason: opts.waiting } } } : {}),
        },
      ],
    },
  };
}

const deployment: LiveWorkload = { kind: "Deployment", obj: { metadata: { name: "api" } } };
const revisions = [
  { revision: 1, name: "api-old", hash: "aaa", sha: "1111111", image: "i:1", deployedAt: null },
  { revision: 2, name: "api-new", hash: "bbb", sha: "2222222", image: "i:2", deployedAt: null },
];

describe("pods collector", () => {
  it("puts failing pods first, then by name, and names the cut past LIMITS.pods", () => {
    const raw = Array.from({ length: LIMITS.pods + 2 }, (_, i) =>
      rawPod(`api-${String(i).padStart(2, "0")}`, {
        ready: i !== 7,
        ...(i === 9 ? { waiting: "CrashLoopBackOff" } : {}),
      }),
    );
    const truncated: string[] = [];
    const { allPods, pods } = boundPods(raw, () => null, "api", truncated);
    expect(allPods).toHaveLength(LIMITS.pods + 2);
    expect(pods).toHaveLength(LIMITS.pods);
    expect(pods.slice(0, 3).map((p) => p.name)).toEqual(["api-07", "api-09", "api-00"]);
    expect(truncated).toEqual([`pods: showing ${LIMITS.pods} of ${LIMITS.pods + 2}`]);
  });

  it("a pod's revision comes from its template hash, else its owning ReplicaSet, else null", () => {
    const revisionOf = revisionResolver(deployment, revisions);
    expect(revisionOf(rawPod("a", { ready: true, hash: "bbb" }))).toBe("2");
    expect(revisionOf(rawPod("b", { ready: true, owner: "api-old" }))).toBe("1");
    expect(revisionOf(rawPod("c", { ready: true, hash: "zzz" }))).toBeNull();
    const sts: LiveWorkload = { kind: "StatefulSet", obj: { metadata: { name: "db" } } };
    const pod = rawPod("db-0", { ready: true });
    pod.metadata = { ...pod.metadata, labels: { "controller-revision-hash": "db-5f7" } };
    expect(revisionResolver(sts, [])(pod)).toBe("db-5f7");
  });
});

describe("workload collector: annotations", () => {
  it("bounded annotations are the selected keys, each key and value cut, the revision and manifest skipped", () => {
    const long = "v".repeat(LIMITS.annotationValueChars + 5);
    const input = {
      "deployment.kubernetes.io/revision": "4",
      "kubectl.kubernetes.io/last-applied-configuration": "{}",
      "team/owner": long,
      "a/note": "short",
    };
    expect(Object.keys(selectAnnotations(input))).toEqual(["a/note", "team/owner"]);
    expect(boundedAnnotations(input)).toEqual({
      "a/note": "short",
      "team/owner": `${"v".repeat(LIMITS.annotationValueChars)}…`,
    });
    expect(boundedAnnotations(undefined)).toEqual({});
  });
});

describe("metrics collector", () => {
  it("without Prometheus, or when every query fails, the source is none and every value null", async () => {
    const none = { source: "none", error_ratio: null, p99_latency_ms: null, restarts: null };
    expect(await collectMetrics({ apis: {} as never, prometheus: null }, "shop", "api", "15m")).toEqual(none);
    const down = {
      instant: async () => {
        throw new Error("connection refused");
      },
    };
    expect(
      await collectMetrics({ apis: {} as never, prometheus: down as never }, "shop", "api", "15m"),
    ).toEqual(none);
  });

  it("p99 is reported in ms with one decimal; a failed query alone is null", async () => {
    const prom = {
      instant: async (q: string) => {
        if (q.includes("histogram_quantile")) return 1.23456;
        if (q.includes("restarts")) throw new Error("bad query");
        return 0.02;
      },
    };
    const m = await collectMetrics({ apis: {} as never, prometheus: prom as never }, "shop", "api", "15m");
    expect(m).toEqual({ source: "prometheus", error_ratio: 0.02, p99_latency_ms: 1234.6, restarts: null });
  });
});

describe("sanitize", () => {
  it("sanitizeTexts gives each text what stripping and redacting it alone gives, and counts repeated texts once per occurrence", async () => {
    const leaky =
      "boot\u200b ok\ncontact jane@example.com, AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    const plain = "GC pause 38.204ms\n";
    const texts = [leaky, plain, leaky];
    // The reference: each text stripped and redacted on its own, counts added in order.
    const one = newTally();
    const add = (into: Record<string, number>, from: Record<string, number | undefined>) => {
      for (const [k, n] of Object.entries(from)) if (n) into[k] = (into[k] ?? 0) + n;
    };
    const separately: string[] = [];
    for (const t of texts) {
      const visible = stripInvisible(t);
      add(one.invisible, visible.counts);
      const r = await redactText(visible.value);
      add(one.redactions, r.counts);
      separately.push(r.value);
    }
    const batch = newTally();
    const together = await sanitizeTexts(texts, batch);
    expect(together).toEqual(separately);
    expect(together[0]).not.toContain("jane@example.com");
    expect(JSON.stringify(batch)).toBe(JSON.stringify(one));
    expect(batch.redactions.Email).toBe(2);
    expect(batch.invisible).toEqual(one.invisible);
    expect(Object.values(batch.invisible).reduce((a, b) => a + b, 0)).toBe(2);
  });
});
