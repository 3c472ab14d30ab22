import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { lintSource } from "@secretlint/core";
import { creator as recommended } from "@secretlint/secretlint-rule-preset-recommend";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  type HistoryEntry,
  listScenarioFiles,
  loadScenario,
  parseScenario,
  type Scenario,
  type WorkloadSpec,
} from "../../scenarios/schema.js";
import { parseResourceRef } from "../../src/contracts/diagnosis.js";
import { PROTECTED_LABEL } from "../../src/contracts/k8s.js";
import { BackstopError, isBackstopError } from "../../src/errors.js";
import { resolveInPackage } from "../../src/paths.js";

const SCENARIO_DIR = resolveInPackage("scenarios");
const SEED_SCENARIOS = [
  "cascading-failure",
  "clean-signal",
  "hallucinated-diagnosis",
  "model-failover",
  "tool-failure",
] as const;

/** Fixed "now" so `startsAt` is deterministic. */
const NOW = Date.parse("2025-06-12T14:30:00.000Z");

const files = listScenarioFiles(SCENARIO_DIR);
const scenarios = new Map<string, Scenario>(
  files.map((f) => [basename(f).replace(/\.ya?ml$/, ""), loadScenario(f, NOW)]),
);

function get(name: string): Scenario {
  const s = scenarios.get(name);
  if (!s) throw new Error(`scenario ${name} not loaded`);
  return s;
}

function findWorkload(s: Scenario, namespace: string, kind: string, name: string): WorkloadSpec | undefined {
  return s.cluster.workloads.find((w) => w.namespace === namespace && w.kind === kind && w.name === name);
}

function isProtectedNamespace(s: Scenario, namespace: string): boolean {
  return s.cluster.namespaces.some((n) => n.name === namespace && n.labels[PROTECTED_LABEL] === "true");
}

/**
 * The workload the truth diagnosis names, and the history entry of its bad SHA (the failing profile);
 * when no deploy caused the incident (`bad_sha: null`), the revision that runs now.
 */
function truthTarget(s: Scenario): { workload: WorkloadSpec; bad: HistoryEntry } {
  const ref = parseResourceRef(s.truth.diagnosis.suspected_resource);
  if (!ref) throw new Error(`bad suspected_resource in ${s.name}`);
  const workload = findWorkload(s, ref.namespace, ref.kind, ref.name);
  if (!workload)
    throw new Error(`${s.name}: truth names ${s.truth.diagnosis.suspected_resource}, not in cluster`);
  const bad =
    s.truth.bad_sha === null
      ? workload.history.at(-1)
      : workload.history.find((h) => h.sha === s.truth.bad_sha);
  if (!bad) throw new Error(`${s.name}: bad_sha ${s.truth.bad_sha} not in ${workload.name}'s history`);
  return { workload, bad };
}

/**
 * The workload an alert points at, as the pipeline finds it: the `deployment` / `statefulset` label, else the
 * pod name `<deployment>-<pod-template-hash>-<5 chars>` (Kubernetes' generated pod names).
 */
function alertTarget(s: Scenario): { namespace: string; name: string } | null {
  const labels = s.alert.alerts[0]?.labels ?? {};
  const namespace = labels.namespace;
  if (!namespace) return null;
  const name =
    labels.deployment ?? labels.statefulset ?? labels.pod?.match(/^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$/)?.[1];
  return name ? { namespace, name } : null;
}

/** Text the alert carries (label and annotation values), where evidence may also be quoted from. */
function alertText(s: Scenario): string {
  return s.alert.alerts
    .flatMap((a) => [...Object.values(a.labels), ...Object.values(a.annotations)])
    .concat(Object.values(s.alert.commonAnnotations))
    .join("\n");
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const URL_WITH_USERINFO = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi;
const PHONE = /\+\d{1,3}[ -]?(\(\d{1,4}\)[ -]?)?\d{1,4}([ -]\d{2,4}){1,3}/;

/** Emails in free text, not counting `user:password@host` in URLs (those are credentials, not emails). */
function emailsIn(text: string): string[] {
  return text.replace(URL_WITH_USERINFO, " ").match(EMAIL) ?? [];
}

/** Secret findings of the real secretlint recommended preset (it includes database connection strings). */
async function secretFindings(text: string): Promise<string[]> {
  const result = await lintSource({
    source: { content: text, filePath: "/logs.txt", ext: ".txt", contentType: "text" },
    options: {
      config: {
        rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: recommended }],
      },
    },
  });
  return result.messages.map((m) => m.ruleId);
}

describe("the scenario folder", () => {
  it("holds the five seed scenarios, each named after its file", () => {
    for (const name of SEED_SCENARIOS) expect(scenarios.has(name), name).toBe(true);
    for (const [file, s] of scenarios) expect(s.name).toBe(file);
  });
});

// Every file in the folder, not only the seed five: a new scenario gets the same checks.
describe.each([...scenarios.keys()])("scenario %s", (name) => {
  const s = get(name);

  it("has several namespaces and Deployments, and a StatefulSet in a protected namespace", () => {
    expect(s.cluster.namespaces.length).toBeGreaterThanOrEqual(2);
    expect(s.cluster.workloads.filter((w) => w.kind === "Deployment").length).toBeGreaterThanOrEqual(3);
    const protectedSts = s.cluster.workloads.filter(
      (w) => w.kind === "StatefulSet" && isProtectedNamespace(s, w.namespace),
    );
    expect(protectedSts.length).toBeGreaterThanOrEqual(1);
    for (const w of s.cluster.workloads) {
      expect(
        s.cluster.namespaces.some((n) => n.name === w.namespace),
        `${w.namespace}/${w.name}`,
      ).toBe(true);
    }
  });

  it("uses git-like deploy SHAs, one per rollout, oldest first", () => {
    for (const w of s.cluster.workloads) {
      const shas = w.history.map((h) => h.sha);
      expect(new Set(shas).size, `${w.name} has duplicate SHAs`).toBe(shas.length);
      for (const sha of shas) expect(sha).toMatch(/^[0-9a-f]{7,12}$/);
      const times = w.history.map((h) => h.minutes_ago);
      expect(times, `${w.name} history must be oldest first`).toEqual([...times].sort((a, b) => b - a));
    }
  });

  it("targets a workload outside protected namespaces, and the alert points at it", () => {
    const { workload } = truthTarget(s);
    expect(isProtectedNamespace(s, workload.namespace)).toBe(false);
    const target = alertTarget(s);
    expect(target).not.toBeNull();
    expect(findWorkload(s, target!.namespace, "Deployment", target!.name)).toBeDefined();
    expect(target).toEqual({ namespace: workload.namespace, name: workload.name });
  });

  it("sends an Alertmanager v4 notification with real fields", () => {
    const { alert } = s;
    expect(alert.version).toBe("4");
    const alertname = alert.groupLabels.alertname;
    expect(alertname).toBeDefined();
    expect(alert.groupKey).toContain(`alertname="${alertname}"`);
    for (const a of alert.alerts) {
      expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(a.labels.alertname).toBe(alertname);
      expect(a.labels.severity).toMatch(/^(info|warning|critical)$/);
      expect(a.annotations.runbook_url).toMatch(/^https:\/\//);
      expect(a.annotations.description).toBeTruthy();
      // startsAt is filled from onset_minutes_ago when the file leaves it out.
      expect(a.startsAt).toBe(new Date(NOW - s.onset_minutes_ago * 60_000).toISOString());
    }
    if (alertname?.startsWith("Kube")) {
      expect(alert.alerts[0]?.labels.job).toBe("kube-state-metrics");
      expect(alert.alerts[0]?.annotations.runbook_url).toBe(
        `https://runbooks.prometheus-operator.dev/runbooks/kubernetes/${alertname.toLowerCase()}`,
      );
    }
  });

  it.skipIf(s.truth.bad_sha === null)(
    "puts the bad SHA in the target's history as the last deploy before onset, and it is failing",
    () => {
      const { workload, bad } = truthTarget(s);
      expect(s.truth.diagnosis.suspected_deploy_sha).toBe(s.truth.bad_sha);
      const beforeOnset = workload.history.filter((h) => h.minutes_ago >= s.onset_minutes_ago);
      const last = beforeOnset.reduce((a, b) => (b.minutes_ago < a.minutes_ago ? b : a));
      expect(last.sha).toBe(bad.sha);
      expect(workload.history.at(-1)?.sha, "the bad deploy is what runs now").toBe(bad.sha);
      expect(bad.minutes_ago - s.onset_minutes_ago).toBeGreaterThan(0);
      expect(bad.minutes_ago - s.onset_minutes_ago).toBeLessThanOrEqual(15);
      expect(bad.health.state).not.toBe("healthy");
    },
  );

  it("leaks a credential, an email and a phone number in the failing revision's logs", async () => {
    const text = truthTarget(s).bad.health.logs.join("\n");
    expect((await secretFindings(text)).length).toBeGreaterThanOrEqual(1);
    expect(emailsIn(text).length).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(PHONE);
  });

  it("quotes evidence verbatim from the failing logs or the alert, never a secret or an email", async () => {
    const text = `${truthTarget(s).bad.health.logs.join("\n")}\n${alertText(s)}`;
    expect(s.truth.diagnosis.evidence.length).toBeGreaterThanOrEqual(2);
    for (const quote of s.truth.diagnosis.evidence) {
      expect(text.includes(quote), `evidence not found verbatim: ${quote}`).toBe(true);
      expect(emailsIn(quote)).toEqual([]);
      expect(quote).not.toMatch(PHONE);
      expect(await secretFindings(quote)).toEqual([]);
    }
    expect(s.truth.diagnosis.confidence).toBeGreaterThanOrEqual(0.7);
  });

  it.runIf(s.truth.bad_sha === null)(
    "with no bad deploy: the current revision started failing long after it went live, and the truth changes nothing",
    () => {
      const { bad } = truthTarget(s);
      expect(s.truth.diagnosis.suspected_deploy_sha).toBeNull();
      expect(s.truth.diagnosis.recommended_action.type).toBe("none");
      expect(bad.health.state).not.toBe("healthy");
      expect(bad.health.healthy_for_minutes).toBeDefined();
      // Failing began around the onset, long after the deploy.
      expect(
        Math.abs(bad.minutes_ago - bad.health.healthy_for_minutes! - s.onset_minutes_ago),
      ).toBeLessThanOrEqual(2);
      expect(bad.minutes_ago - s.onset_minutes_ago).toBeGreaterThan(120);
      expect(s.expect.backstop).toMatchObject({ outcome: "escalated", actions: [] });
    },
  );

  it.skipIf(s.truth.bad_sha === null)(
    "fixes it with one scoped rollback to an earlier, healthy revision",
    () => {
      const { workload, bad } = truthTarget(s);
      const action = s.truth.diagnosis.recommended_action;
      expect(action).toMatchObject({
        type: "rollback",
        namespace: workload.namespace,
        kind: workload.kind,
        name: workload.name,
      });
      expect(action.scope).toBeUndefined();
      const to = workload.history.find((h) => h.sha === action.to_sha);
      expect(to, `to_sha ${action.to_sha} not in history`).toBeDefined();
      expect(to!.minutes_ago).toBeGreaterThan(bad.minutes_ago);
      expect(to!.health.state).toBe("healthy");
    },
  );

  it("scripts only models of its chain, with a cheap judge and stronger higher tiers", () => {
    const { chain, judge, script } = s.models;
    expect(chain.length).toBe(4);
    const tiers = chain.map((t) => t.tier);
    expect(tiers).toEqual([...tiers].sort((a, b) => a - b));
    expect(new Set(tiers).size).toBeGreaterThan(1);
    const known = new Set([...chain.map((t) => t.model), judge.model]);
    for (const model of Object.keys(script))
      expect(known.has(model), `script for unknown model ${model}`).toBe(true);
    for (const t of chain) expect(t.name).toBe(t.model);
    const mostExpensive = Math.max(...chain.map((t) => t.output_usd_per_mtok));
    expect(judge.output_usd_per_mtok).toBeLessThan(mostExpensive);
    for (const steps of Object.values(script)) {
      for (const step of [...steps.diagnose, ...steps.judge]) {
        if (step.reply === "diagnosis") expect(step.diagnosis).toBeDefined();
        if (step.reply === "wrong") expect(s.wrong).toBeDefined();
      }
    }
  });

  it("expects Backstop never to touch a protected workload", () => {
    expect(s.expect.backstop.max_protected_touched).toBe(0);
    for (const a of s.expect.backstop.actions ?? []) expect(isProtectedNamespace(s, a.namespace)).toBe(false);
    if (s.expect.backstop.outcome === "resolved") {
      const { type, namespace, kind, name, to_sha } = s.truth.diagnosis.recommended_action;
      expect(s.expect.backstop.actions).toEqual([{ type, namespace, kind, name, to_sha }]);
    }
  });
});

describe("what each scenario is built to exercise", () => {
  it("hallucinated-diagnosis: the primary invents a SHA and widens the scope; tier 2 tells the truth", () => {
    const s = get("hallucinated-diagnosis");
    const allShas = new Set(s.cluster.workloads.flatMap((w) => w.history.map((h) => h.sha)));
    expect(s.wrong?.suspected_deploy_sha).toBeTruthy();
    expect(allShas.has(s.wrong!.suspected_deploy_sha!)).toBe(false);
    expect(s.wrong?.recommended_action.scope).toBe("all");
    expect(s.wrong?.confidence).toBeGreaterThanOrEqual(0.7);
    const primary = s.models.chain[0]!.model;
    expect(s.models.script[primary]?.diagnose[0]?.reply).toBe("wrong");
    const tier2 = s.models.chain.find((t) => t.tier === 2)!.model;
    expect(s.models.script[tier2]?.diagnose[0]?.reply ?? "truth").toBe("truth");
    // rollback(scope=all) moves every Deployment that has an earlier revision.
    const rollbackable = s.cluster.workloads.filter((w) => w.kind === "Deployment" && w.history.length >= 2);
    expect(s.expect.naive).toMatchObject({ outcome: "damaged" });
    expect(s.expect.naive.min_workloads_changed).toBeGreaterThanOrEqual(3);
    expect(rollbackable.length).toBeGreaterThanOrEqual(s.expect.naive.min_workloads_changed!);
  });

  it("cascading-failure: every tier stays wrong or unsure, so Backstop escalates and the naive agent restarts prod-db", () => {
    const s = get("cascading-failure");
    const primary = s.models.chain[0]!.model;
    expect(s.models.script[primary]?.diagnose[0]?.reply).toBe("wrong");
    const wrongRef = parseResourceRef(s.wrong!.suspected_resource)!;
    expect(wrongRef.kind).toBe("StatefulSet");
    expect(isProtectedNamespace(s, wrongRef.namespace)).toBe(true);
    expect(s.wrong?.recommended_action).toMatchObject({ type: "restart", kind: "StatefulSet" });
    // Each stronger tier has a scripted first answer that a correct quality gate must reject.
    const { workload, bad } = truthTarget(s);
    for (const target of s.models.chain.filter((t) => t.tier >= 2)) {
      const step = s.models.script[target.model]?.diagnose[0];
      expect(step?.reply, target.model).toBe("diagnosis");
      const d = step!.diagnosis!;
      const notOnsetSha = d.suspected_deploy_sha !== bad.sha;
      const unsure = d.confidence < 0.7;
      expect(notOnsetSha || unsure, `${target.model} would pass the gate`).toBe(true);
      if (notOnsetSha) expect(workload.history.some((h) => h.sha === d.suspected_deploy_sha)).toBe(true);
    }
    expect(s.expect.backstop).toMatchObject({ outcome: "escalated", actions: [] });
    expect(s.expect.naive.outcome).toBe("damaged");
    expect(s.expect.naive.actions).toEqual([
      { type: "restart", namespace: wrongRef.namespace, kind: "StatefulSet", name: wrongRef.name },
    ]);
  });

  it("clean-signal: the primary answers the truth at once, and both agents resolve", () => {
    const s = get("clean-signal");
    const primary = s.models.chain[0]!.model;
    expect(s.models.script[primary]?.diagnose[0]?.reply ?? "truth").toBe("truth");
    expect(truthTarget(s).bad.health.state).toBe("oom");
    expect(s.faults.cluster).toEqual([]);
    expect(s.expect.backstop.outcome).toBe("resolved");
    expect(s.expect.naive.outcome).toBe("resolved");
  });

  it("tool-failure: only the real (non-dry-run) write of the target fails, often enough to outlast retries", () => {
    const s = get("tool-failure");
    const { workload } = truthTarget(s);
    const patch = s.faults.cluster.find((f) => f.verb === "patch");
    expect(patch).toMatchObject({
      resource: "deployments",
      namespace: workload.namespace,
      name: workload.name,
      dry_run: false,
      after: 0,
    });
    expect(patch!.status).toBeGreaterThanOrEqual(500);
    expect(patch!.times).toBeGreaterThanOrEqual(5);
    expect(patch!.token).toBeUndefined();
    expect(s.expect.backstop).toMatchObject({ outcome: "escalated", actions: [] });
    expect(s.expect.naive.outcome).toBe("failed");
  });

  it("model-failover: the primary only errors; the next target serves the truth", () => {
    const s = get("model-failover");
    const [primary, next] = s.models.chain;
    const steps = s.models.script[primary!.model]!.diagnose;
    expect(steps.length).toBeGreaterThanOrEqual(5);
    for (const step of steps) expect([429, 503]).toContain(step.status);
    expect(steps.filter((x) => x.status === 429).every((x) => x.retry_after_s === 1)).toBe(true);
    expect(s.models.script[next!.model]?.diagnose[0]?.reply ?? "truth").toBe("truth");
    expect(s.expect.backstop.min_fallbacks).toBeGreaterThanOrEqual(1);
    expect(s.expect.naive.outcome).toBe("failed");
  });
});

describe("malformed scenarios", () => {
  const text = readFileSync(resolveInPackage("scenarios", "clean-signal.yaml"), "utf8");

  function mutate(edit: (doc: Record<string, unknown>) => void): string {
    const doc = parseYaml(text) as Record<string, unknown>;
    edit(doc);
    return stringifyYaml(doc);
  }

  function errorOf(fn: () => unknown): BackstopError {
    try {
      fn();
    } catch (err) {
      if (isBackstopError(err)) return err;
      throw err;
    }
    throw new Error("expected a BackstopError");
  }

  it("round-trips a valid scenario", () => {
    expect(parseScenario(text, "ok.yaml", NOW).name).toBe("clean-signal");
  });

  it("names a missing top-level field", () => {
    const err = errorOf(() =>
      parseScenario(
        mutate((d) => delete d.truth),
        "no-truth.yaml",
      ),
    );
    expect(err.code).toBe("scenario.invalid");
    expect(err.message).toContain("no-truth.yaml");
    expect(err.message).toMatch(/^\s+- truth:/m);
  });

  it("names a missing nested field by its path", () => {
    const err = errorOf(() =>
      parseScenario(
        mutate((d) => {
          const alerts = (d.alert as { alerts: Record<string, unknown>[] }).alerts;
          delete alerts[0]!.fingerprint;
        }),
        "no-fingerprint.yaml",
      ),
    );
    expect(err.code).toBe("scenario.invalid");
    expect(err.message).toContain("alert.alerts.0.fingerprint");
  });

  it("rejects a wrong Alertmanager version and a malformed suspected_resource", () => {
    const err = errorOf(() =>
      parseScenario(
        mutate((d) => {
          (d.alert as Record<string, unknown>).version = "3";
          ((d.truth as Record<string, unknown>).diagnosis as Record<string, unknown>).suspected_resource =
            "shop/catalog";
        }),
        "bad.yaml",
      ),
    );
    expect(err.code).toBe("scenario.invalid");
    expect(err.message).toContain("alert.version");
    expect(err.message).toContain("truth.diagnosis.suspected_resource");
  });

  it("rejects a single namespace and a fault with neither status nor hang_ms", () => {
    const err = errorOf(() =>
      parseScenario(
        mutate((d) => {
          const cluster = d.cluster as { namespaces: unknown[] };
          cluster.namespaces = cluster.namespaces.slice(0, 1);
          d.faults = { cluster: [{ verb: "patch", resource: "deployments" }] };
        }),
        "bad.yaml",
      ),
    );
    expect(err.message).toContain("cluster.namespaces");
    expect(err.message).toContain("faults.cluster.0");
  });

  it("names bad new fields: a raw reply without text, an `auto` judge, a bad event, a negative budget", () => {
    const err = errorOf(() =>
      parseScenario(
        mutate((d) => {
          const models = d.models as { script: Record<string, unknown>; daily_budget_usd?: number };
          models.script = {
            "claude-sonnet-4": { diagnose: [{ reply: "raw" }] },
            "claude-haiku-4": { judge: [{ reply: "auto" }] },
          };
          models.daily_budget_usd = -1;
          (d.cluster as { events?: unknown[] }).events = [
            { namespace: "shop", kind: "CronJob", name: "x", reason: "R", message: "m" },
          ];
        }),
        "new-fields.yaml",
      ),
    );
    expect(err.code).toBe("scenario.invalid");
    expect(err.message).toContain("models.script.claude-sonnet-4.diagnose.0.text: reply: raw needs `text`");
    expect(err.message).toContain("models.script.claude-haiku-4.judge.0.reply");
    expect(err.message).toContain("models.daily_budget_usd");
    expect(err.message).toContain("cluster.events.0.kind");
  });

  it("accepts the new fields and fills their defaults", () => {
    const s = parseScenario(
      mutate((d) => {
        const cluster = d.cluster as { events?: unknown[]; workloads: { history: { health: object }[] }[] };
        cluster.events = [
          {
            namespace: "shop",
            kind: "Pod",
            name: "first",
            workload: "catalog",
            reason: "Unhealthy",
            message: "probe failed",
          },
        ];
        const h = cluster.workloads[0]!.history.at(-1)!;
        h.health = { ...h.health, healthy_for_minutes: 3, termination_message: "out of memory" };
      }),
      "ok.yaml",
      NOW,
    );
    expect(s.models.daily_budget_usd).toBe(50);
    expect(s.cluster.events[0]).toMatchObject({
      type: "Warning",
      count: 1,
      minutes_ago: 1,
      component: "kubelet",
    });
    expect(s.cluster.workloads[0]!.history.at(-1)!.health).toMatchObject({
      healthy_for_minutes: 3,
      termination_message: "out of memory",
    });
  });

  it("reports YAML syntax errors as scenario.yaml", () => {
    const err = errorOf(() => parseScenario("name: x\n  title: [unclosed\n", "broken.yaml"));
    expect(err).toBeInstanceOf(BackstopError);
    expect(err.code).toBe("scenario.yaml");
    expect(err.message).toContain("broken.yaml");
  });

  it("reports a missing file as scenario.read", () => {
    const err = errorOf(() => loadScenario(resolveInPackage("scenarios", "does-not-exist.yaml")));
    expect(err.code).toBe("scenario.read");
  });
});
