import type { ActionsBlock, Button, SectionBlock } from "@slack/types";
import { describe, expect, it } from "vitest";
import {
  ACTION_APPROVE,
  ACTION_RECEIPT,
  ACTION_REJECT,
  alertResolvedReply,
  decisionMessage,
  errorMessage,
  escalationMessage,
  escapeText,
  eventReply,
  helpMessage,
  type IncidentStatus,
  type IncidentView,
  incidentRoot,
  receiptMessage,
  stageOf,
  statusMessage,
  statusOf,
  truncate,
  USAGE,
} from "../../blocks/index.js";
import { message, section } from "../../blocks/text.js";
import type { RunEvent } from "../../src/contracts/events.js";
import { escalatedRun, ROLLBACK, recorder, resolvedRun } from "./fixtures.js";
import { allText, expectWithinLimits } from "./limits.js";

const view = (over: Partial<IncidentView> = {}): IncidentView => ({
  runId: "run-1",
  alertname: "CheckoutErrors",
  severity: "critical",
  namespace: "shop",
  workload: "checkout",
  trigger: "alert",
  requestedBy: null,
  status: "diagnosing",
  stage: "diagnose",
  summary: null,
  startedAt: "2026-05-01T10:00:00.000Z",
  ...over,
});

function byType(events: RunEvent[], type: RunEvent["type"]): RunEvent {
  const e = events.find((x) => x.type === type);
  if (!e) throw new Error(`no ${type}`);
  return e;
}

describe("text helpers", () => {
  it("escapes &, < and > so untrusted text cannot ping or link", () => {
    expect(escapeText("<script>alert(1)</script> & <!channel>")).toBe(
      "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;",
    );
  });

  it("truncates with an ellipsis without splitting an entity or a surrogate pair", () => {
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("abc", 3)).toBe("abc");
    expect(truncate("a&amp;b", 4)).toBe("a…");
    const cut = truncate("ab😀cd", 4);
    expect(cut).toBe("ab…");
  });

  it("keeps a message at 50 blocks and always gives it a text", () => {
    const many = Array.from({ length: 60 }, (_, i) => section(`line ${i}`));
    const m = message("", many);
    expect(m.blocks).toHaveLength(50);
    expect(allText(m)).toContain("11 more blocks");
    expect(m.text).toBe("Backstop");
  });
});

describe("incidentRoot", () => {
  it("shows a header with the status emoji and target, six fields and the stage", () => {
    const m = incidentRoot(view());
    expectWithinLimits(m);
    expect(m.blocks.map((b) => b.type)).toEqual(["header", "section", "context"]);
    const head = m.blocks[0] as { text: { text: string } };
    expect(head.text.text).toBe(":brain: shop/checkout");
    const fields = (m.blocks[1] as SectionBlock).fields!;
    expect(fields).toHaveLength(6);
    expect(fields.map((f) => f.text.split("\n")[0])).toEqual([
      "*Alert*",
      "*Severity*",
      "*Status*",
      "*Trigger*",
      "*Started*",
      "*Run*",
    ]);
    expect(fields[2]!.text).toContain("Diagnosing");
    expect(allText(m)).toContain("Diagnosis: asking the model");
    expect(m.text).toContain("CheckoutErrors on shop/checkout");
  });

  it("shows the summary instead of the stage, the requester of a command and Alertmanager's resolve", () => {
    const m = incidentRoot(
      view({
        status: "resolved",
        summary: "rolled back",
        trigger: "command",
        requestedBy: "U123ABC",
        alertname: null,
        resolvedByAlertmanager: true,
      }),
    );
    expectWithinLimits(m);
    const t = allText(m);
    expect(t).toContain("rolled back");
    expect(t).not.toContain("Stage:");
    expect(t).toContain("<@U123ABC>");
    expect(t).toContain("Alertmanager reports this alert resolved");
    expect((m.blocks[0] as { text: { text: string } }).text.text.startsWith(":white_check_mark:")).toBe(true);
  });

  it("escapes cluster text and cuts a huge workload name to the header limit", () => {
    const m = incidentRoot(view({ alertname: "<script>x</script>&", workload: "w".repeat(400) }));
    expectWithinLimits(m);
    const t = allText(m);
    expect(t).not.toContain("<script>");
    expect(t).toContain("&lt;script&gt;x&lt;/script&gt;&amp;");
    expect((m.blocks[0] as { text: { text: string } }).text.text.endsWith("…")).toBe(true);
    expect(m.text).not.toContain("<script>");
  });
});

describe("statusOf and stageOf", () => {
  it("walks a resolved run through triaging, diagnosing, validating, acting and resolved", () => {
    let s: IncidentStatus = "queued";
    const seen: IncidentStatus[] = [];
    for (const e of resolvedRun()) {
      s = statusOf(e, s);
      if (seen[seen.length - 1] !== s) seen.push(s);
    }
    expect(seen).toEqual(["triaging", "diagnosing", "validating", "acting", "resolved"]);
    expect(resolvedRun().map(stageOf)).toEqual([
      "triage",
      "triage",
      "triage",
      "diagnose",
      "diagnose",
      "diagnose",
      "validate",
      "validate",
      "validate",
      "act",
      "act",
      "record",
      "record",
    ]);
  });

  it("waits for approval when an escalation proposes an action, else escalates", () => {
    const esc = byType(escalatedRun(), "escalation.opened");
    expect(statusOf(esc, "validating")).toBe("awaiting_approval");
    const r = recorder();
    const bare = r.add("escalation.opened", {
      reason: "no signals",
      proposed_action: null,
      context: { hypothesis: null, failed_rules: [] },
    });
    expect(statusOf(bare, "triaging")).toBe("escalated");
    expect(stageOf(bare)).toBe("escalate");
  });

  it("maps decisions and outcomes: rejected stays rejected, approved acts, damaged fails", () => {
    const r = recorder();
    const rejected = r.add("approval.decided", {
      decision: "rejected",
      by: "U1",
      at: "2026-05-01T10:05:00Z",
    });
    const expired = r.add("approval.decided", { decision: "expired", by: null, at: "2026-05-01T10:30:00Z" });
    const approved = r.add("approval.decided", {
      decision: "approved",
      by: "U1",
      at: "2026-05-01T10:05:00Z",
    });
    const fin = (outcome: "resolved" | "escalated" | "damaged" | "failed") =>
      r.add("run.finished", {
        outcome,
        summary: "s",
        wall_ms: 1,
        cost_usd: 0,
        tokens: { input: 0, output: 0 },
      });
    expect(statusOf(rejected, "awaiting_approval")).toBe("rejected");
    expect(statusOf(expired, "awaiting_approval")).toBe("rejected");
    expect(statusOf(approved, "awaiting_approval")).toBe("acting");
    expect(statusOf(fin("escalated"), "rejected")).toBe("rejected");
    expect(statusOf(fin("escalated"), "validating")).toBe("escalated");
    expect(statusOf(fin("damaged"), "acting")).toBe("failed");
    expect(statusOf(fin("failed"), "acting")).toBe("failed");
    expect(stageOf(approved)).toBe("act");
    expect(stageOf(rejected)).toBe("escalate");
  });

  it("leaves the status alone for breaker and ticket events", () => {
    const run = escalatedRun();
    expect(statusOf(byType(run, "breaker.tripped"), "validating")).toBe("validating");
    expect(statusOf(byType(resolvedRun(), "ticket.filed"), "acting")).toBe("acting");
  });
});

describe("eventReply", () => {
  const run = resolvedRun();

  it("returns null for events that stay on the receipt only", () => {
    for (const t of ["run.started", "model.call", "action.dry_run"] as const) {
      expect(eventReply(byType(run, t))).toBeNull();
    }
    const r = recorder();
    const anomaly = r.add("breaker.anomaly", {
      kind: "tool_error",
      cost: 1,
      spent: 1,
      budget: 3,
      detail: "x",
    });
    expect(eventReply(anomaly)).toBeNull();
  });

  it("gives every other event of a run a reply within Slack's limits", () => {
    const replies = [...run, ...escalatedRun()].map(eventReply).filter((m) => m !== null);
    expect(replies.length).toBe(13);
    for (const m of replies) expectWithinLimits(m!);
  });

  it("signals: pods, unhealthy, revisions, events, log lines, tool errors", () => {
    const m = eventReply(byType(run, "signals.gathered"))!;
    const fields = (m.blocks[0] as SectionBlock).fields!.map((f) => f.text);
    expect(fields).toContain("*Pods*\n4 (2 unhealthy)");
    expect(fields).toContain("*Revisions*\n3");
    expect(fields).toContain("*Events*\n7");
    expect(fields).toContain("*Log lines*\n40");
    expect(fields).toContain("*Tool errors*\n0");
    expect(m.text).toContain("4 pods (2 unhealthy)");
  });

  it("signals: a failed gather names the tool and its escaped error", () => {
    const r = recorder();
    const e = r.add("signals.gathered", {
      namespace: "shop",
      workload: "checkout",
      pods: 0,
      unhealthy_pods: 0,
      revisions: 0,
      events: 0,
      log_lines: 0,
      tool_calls: [{ tool: "get_signals", ms: 0, ok: false, error: "403 <forbidden>" }],
    });
    const m = eventReply(e)!;
    expect(allText(m)).toContain("Signals unavailable");
    expect(allText(m)).toContain("403 &lt;forbidden&gt;");
  });

  it("redaction: counts per type, and 'no secrets found' at zero", () => {
    const m = eventReply(byType(run, "redaction.applied"))!;
    expect(allText(m)).toContain("3 masked");
    expect(allText(m)).toContain("email × 2");
    expect(allText(m)).toContain("aws_access_key × 1");
    const zero = eventReply(recorder().add("redaction.applied", { counts: {}, total: 0 }))!;
    expect(allText(zero)).toContain("no secrets found");
  });

  it("diagnosis: model, hypothesis, confidence in %, SHA in code, recommended action", () => {
    const m = eventReply(byType(run, "diagnosis.parsed"))!;
    const t = allText(m);
    expect(t).toContain("`claude-mid`");
    expect(t).toContain("Deploy 9d1e7f0 broke checkout");
    expect(t).toContain("*Confidence*\\n82%");
    expect(t).toContain("*Suspected SHA*\\n`9d1e7f0`");
    expect(t).toContain("*rollback* `shop/Deployment/checkout` to `3f9c2a1`");
    expect(t).toContain("NullPointerException");
  });

  it("diagnosis: an unparseable reply says so; a huge hypothesis is cut", () => {
    const r = recorder();
    const bad = r.add("diagnosis.parsed", {
      model: "m",
      ok: false,
      error: "no JSON",
      diagnosis: null,
      extraction: null,
    });
    expect(allText(eventReply(bad)!)).toContain("Unparseable diagnosis");
    const huge = r.add("diagnosis.parsed", {
      model: "m",
      ok: true,
      error: null,
      extraction: null,
      diagnosis: {
        hypothesis: "<x>".repeat(5000),
        suspected_resource: "shop/Deployment/checkout",
        suspected_deploy_sha: null,
        confidence: 0.5,
        evidence: Array.from({ length: 100 }, () => "e".repeat(3000)),
        recommended_action: {
          type: "restart",
          namespace: "shop",
          kind: "Deployment",
          name: "checkout",
          scope: "all",
        },
      },
    });
    const m = eventReply(huge)!;
    expectWithinLimits(m);
    expect((m.blocks[0] as SectionBlock).text!.text.endsWith("…")).toBe(true);
    expect(allText(m)).toContain("scope `all`");
    expect(allText(m)).not.toContain("<x>");
  });

  it("quality gate: FAIL with each failed rule, the judge's verdict and the re-route tier", () => {
    const m = eventReply(byType(escalatedRun(), "gate.quality"))!;
    const t = (m.blocks[0] as SectionBlock).text!.text;
    expect(t).toContain("*Quality gate FAIL*");
    expect(t).toContain("`sha_in_history` — SHA deadbee is not in the rollout history");
    expect(t).not.toContain("evidence_quoted");
    expect(t).toContain("ungrounded — evidence &lt;b&gt;invented&lt;/b&gt;");
    expect(t).toContain("Re-routing to tier 2");
    expect(m.text).toContain("FAIL (sha_in_history)");
  });

  it("action gate: PASS with the action", () => {
    const m = eventReply(byType(run, "gate.action"))!;
    expect(allText(m)).toContain("*Action gate PASS*");
    expect(allText(m)).toContain("`shop/Deployment/checkout`");
  });

  it("fallback: model → model with the status; breaker; action and recovery; ticket link", () => {
    const fb = allText(eventReply(byType(run, "model.fallback"))!);
    expect(fb).toContain("`gpt-small` → `claude-mid`");
    expect(fb).toContain("HTTP 503");
    const br = allText(eventReply(byType(escalatedRun(), "breaker.tripped"))!);
    expect(br).toContain("Circuit breaker tripped");
    expect(br).toContain("3 / 3");
    expect(allText(eventReply(byType(run, "action.executed"))!)).toContain("revision 4");
    expect(allText(eventReply(byType(run, "recovery.verified"))!)).toContain("4/4 ready after 2.3 s");
    const tk = allText(eventReply(byType(run, "ticket.filed"))!);
    expect(tk).toContain("<https://tickets.example/TCK-12?a=1&amp;b=2|TCK-12>");
  });

  it("ticket: a URL with link syntax is not turned into a link", () => {
    const e = recorder().add("ticket.filed", {
      id: "X-1",
      url: "https://a|<!channel>",
      tool: "create_issue",
    });
    const t = allText(eventReply(e)!);
    expect(t).not.toContain("<!channel>");
    expect(t).toContain("`X-1`");
  });

  it("action failed: error, HTTP status and whether the cluster changed", () => {
    const e = recorder().add("action.failed", {
      action: { ...ROLLBACK },
      error: "conflict",
      status: 409,
      changed: false,
    });
    const t = allText(eventReply(e)!);
    expect(t).toContain("Action failed");
    expect(t).toContain("(HTTP 409)");
    expect(t).toContain("Nothing changed");
  });

  it("approval and run end: who as a mention, cost in USD and tokens", () => {
    const r = recorder();
    const d = r.add("approval.decided", { decision: "approved", by: "U123", at: "2026-05-01T10:05:00.000Z" });
    const t = allText(eventReply(d)!);
    expect(t).toContain("*Approved* by <@U123>");
    expect(t).toContain("<!date^");
    const fin = allText(eventReply(byType(run, "run.finished"))!);
    expect(fin).toContain("Run finished: resolved");
    expect(fin).toContain("$0.0123");
    expect(fin).toContain("1200 in / 300 out");
  });
});

describe("escalationMessage and decisionMessage", () => {
  const base = {
    runId: "run-2",
    reason: "quality gate failed <twice>",
    proposedAction: { ...ROLLBACK },
    hypothesis: "bad deploy",
    failedRules: ["sha_in_history"],
    approvers: ["U111", "S222"],
    expiresAt: "2026-05-01T10:30:00.000Z",
  };

  it("has Approve (primary, with confirm) and Reject (danger) buttons carrying the run id", () => {
    const m = escalationMessage(base);
    expectWithinLimits(m);
    const act = m.blocks.find((b) => b.type === "actions") as ActionsBlock;
    const [approve, reject] = act.elements as Button[];
    expect(approve!.action_id).toBe(ACTION_APPROVE);
    expect(approve!.value).toBe("run-2");
    expect(approve!.style).toBe("primary");
    expect(approve!.confirm?.text.text).toContain("hard rules are checked again");
    expect(reject!.action_id).toBe(ACTION_REJECT);
    expect(reject!.value).toBe("run-2");
    expect(reject!.style).toBe("danger");
    expect(reject!.confirm).toBeUndefined();
    const t = allText(m);
    expect(t).toContain("<@U111>");
    expect(t).toContain("<!subteam^S222>");
    expect(t).toContain("quality gate failed &lt;twice&gt;");
    expect(t).toContain("`sha_in_history`");
    expect(t).toContain("counts as rejected");
    expect(m.text).toContain("Approval needed: rollback shop/Deployment/checkout to 3f9c2a1");
  });

  it("without a proposed action: an acknowledgement line and no buttons", () => {
    const m = escalationMessage({ ...base, proposedAction: null });
    expectWithinLimits(m);
    expect(m.blocks.some((b) => b.type === "actions")).toBe(false);
    expect(allText(m)).toContain("nothing to approve");
  });

  it("an approver that is not a Slack id is shown as escaped text, not a mention", () => {
    const t = allText(escalationMessage({ ...base, approvers: ["<!everyone>"] }));
    expect(t).not.toContain("<!everyone>");
    expect(t).toContain("&lt;!everyone&gt;");
  });

  it("decision replaces the buttons with who decided and when", () => {
    for (const decision of ["approved", "rejected", "expired"] as const) {
      const m = decisionMessage({
        runId: "run-2",
        decision,
        by: decision === "expired" ? null : "U999",
        at: "2026-05-01T10:06:00.000Z",
        proposedAction: { ...ROLLBACK },
      });
      expectWithinLimits(m);
      expect(m.blocks.some((b) => b.type === "actions")).toBe(false);
      const t = allText(m);
      if (decision === "expired") expect(t).toContain("Expired");
      else expect(t).toContain("<@U999>");
      expect(m.text.toLowerCase()).toContain(decision);
    }
  });
});

describe("receipt, help, errors, status, resolved", () => {
  it("receipt: head hash and a Download receipt button with the run id", () => {
    const m = receiptMessage({
      runId: "run-1",
      headHash: "a".repeat(64),
      events: 13,
      keyId: "0123456789abcdef",
    });
    expectWithinLimits(m);
    const s = m.blocks[0] as SectionBlock;
    expect(s.text!.text).toContain(`\`${"a".repeat(64)}\``);
    expect(s.accessory).toMatchObject({ type: "button", action_id: ACTION_RECEIPT, value: "run-1" });
    expect(allText(m)).toContain("0123456789abcdef");
  });

  it("help lists every subcommand; errors say what was expected", () => {
    const h = helpMessage();
    expectWithinLimits(h);
    for (const u of Object.values(USAGE)) expect(allText(h)).toContain(escapeText(u));
    const e = errorMessage("Unknown subcommand <foo>", USAGE.triage);
    expectWithinLimits(e);
    expect(allText(e)).toContain("Unknown subcommand &lt;foo&gt;");
    expect(allText(e)).toContain(
      "Expected: `/backstop triage [&lt;cluster&gt;/]&lt;namespace&gt;/&lt;workload&gt; [note]`",
    );
    expect(e.text).toContain("Expected");
    expect(errorMessage("x").text).toBe("x");
  });

  it("status: none, one, and many runs within 50 blocks", () => {
    expect(allText(statusMessage([]))).toContain("No Backstop runs");
    const one = statusMessage([view({ status: "awaiting_approval" })]);
    expectWithinLimits(one);
    expect(allText(one)).toContain("Awaiting approval");
    const many = statusMessage(Array.from({ length: 120 }, (_, i) => view({ runId: `run-${i}` })));
    expectWithinLimits(many);
    expect(allText(many)).toContain("80 more");
  });

  it("resolved reply names the alert, escaped", () => {
    const m = alertResolvedReply("Disk<Full>", "2026-05-01T11:00:00.000Z");
    expectWithinLimits(m);
    expect(allText(m)).toContain("*Disk&lt;Full&gt;* resolved");
  });
});
