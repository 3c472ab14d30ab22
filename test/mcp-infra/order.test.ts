import { describe, expect, it } from "vitest";
import type { K8sApis } from "../../mcp-infra/k8s.js";
import { collectSignals, LIMITS } from "../../mcp-infra/signals.js";
import { redactorVersion } from "../../src/guardrails/redact.js";
import { windows } from "../fixtures/planted.js";

// The order "redact in full, then bound" for every kind of text get_signals returns, over fake
// Kubernetes API clients: a secret placed right where each bound cuts must not survive in part.

const TOKEN = "ghp_Tn3Vb8Xq1Lz6Wr4Kp9Mc2Hs7Jd5Fy0Ga1Eu8";
const at = (n: number) => `${"e".repeat(n - 1)} ${TOKEN}`;

function fakeApis(opts: { eventMessage: string; conditionMessage: string; log: string }): K8sApis {
  const labels = { app: "shop-api", "pod-template-hash": "abc12" };
  const deployment = {
    metadata: {
      name: "shop-api",
      namespace: "shop",
      annotations: { "deployment.kubernetes.io/revision": "1" },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "shop-api" } },
      template: { spec: { containers: [{ name: "shop-api", image: "ghcr.io/acme/shop-api:1a2b3c4" }] } },
    },
    status: {
      replicas: 1,
      conditions: [{ type: "Progressing", status: "False", reason: "X", message: opts.conditionMessage }],
    },
  };
  const rs = {
    metadata: {
      name: "shop-api-abc12",
      namespace: "shop",
      labels,
      annotations: { "deployment.kubernetes.io/revision": "1" },
      ownerReferences: [{ kind: "Deployment", name: "shop-api" }],
      creationTimestamp: new Date("2026-11-30T20:00:00Z"),
    },
    spec: {
      template: { spec: { containers: [{ name: "shop-api", image: "ghcr.io/acme/shop-api:1a2b3c4" }] } },
    },
  };
  const pod = {
    metadata: { name: "shop-api-abc12-x1y2z", namespace: "shop", labels },
    spec: { containers: [{ name: "shop-api" }] },
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: "False" }],
      containerStatuses: [
        {
          name: "shop-api",
          ready: false,
          restartCount: 3,
          state: { waiting: { reason: "CrashLoopBackOff" } },
        },
      ],
    },
  };
  const event = {
    metadata: { uid: "ev1", name: "ev1" },
    type: "Warning",
    reason: "Failed",
    message: opts.eventMessage,
    involvedObject: { kind: "Pod", name: pod.metadata.name },
    count: 1,
  };
  return {
    apps: {
      readNamespacedDeployment: async () => deployment,
      listNamespacedReplicaSet: async () => ({ items: [rs] }),
    },
    core: {
      listNamespacedPod: async () => ({ items: [pod] }),
      listNamespacedEvent: async (p: { fieldSelector: string }) => ({
        items: p.fieldSelector.endsWith(pod.metadata.name) ? [event] : [],
      }),
      readNamespacedPodLog: async () => opts.log,
    },
    opts: { middleware: [], middlewareMergeStrategy: "append" },
    timeoutMs: 1000,
  } as unknown as K8sApis;
}

describe("get_signals redacts every text in full before any bound cuts it", () => {
  it("event messages, condition messages and log lines with a token straddling their limit", async () => {
    const apis = fakeApis({
      eventMessage: at(LIMITS.eventMessageChars - 10),
      conditionMessage: at(LIMITS.conditionMessageChars - 10),
      log: `${["starting", at(LIMITS.logLineChars - 10)].join("\n")}\n`,
    });
    const s = await collectSignals({ apis, prometheus: null }, "shop", "shop-api", "15m");
    const out = JSON.stringify(s);
    for (const w of windows(TOKEN)) expect(out).not.toContain(w);
    // Each text was bounded after the mask: cut, ending in "…", at its limit.
    expect(s.events[0]?.message.length).toBe(LIMITS.eventMessageChars + 1);
    expect(s.workload.conditions[0]?.message?.length).toBe(LIMITS.conditionMessageChars + 1);
    expect(s.logs[0]?.lines[1]?.length).toBe(LIMITS.logLineChars + 1);
    expect(s.sanitized?.redactions.GitHubToken).toBe(3);
    // The redactor is named, so a reader running the same build need not pass over it again.
    expect(s.sanitized?.redactor).toBe(redactorVersion());
  });

  it("a PEM block whose first lines are older than the tail is still masked whole", async () => {
    const body = Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(65 + i)}`.repeat(64));
    const pem = ["-----BEGIN OPENSSH PRIVATE KEY-----", ...body, "-----END OPENSSH PRIVATE KEY-----"];
    const filler = Array.from({ length: LIMITS.logLines - 3 }, (_, i) => `tick ${i}`);
    const apis = fakeApis({
      eventMessage: "ok",
      conditionMessage: "ok",
      log: [...pem, ...filler].join("\n"),
    });
    const s = await collectSignals({ apis, prometheus: null }, "shop", "shop-api", "15m");
    const lines = s.logs[0]?.lines ?? [];
    expect(lines.join("\n")).not.toContain("END OPENSSH PRIVATE KEY");
    for (const b of body) expect(lines.join("\n")).not.toContain(b.slice(0, 12));
    expect(lines.at(-1)).toBe(`tick ${LIMITS.logLines - 4}`);
  });
});
