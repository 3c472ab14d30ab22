import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SandboxTickets, startSandboxTickets } from "../../sandbox/tickets/server.js";
import { type BackstopErrorCode, isBackstopError } from "../../src/errors.js";
import { connectNotify } from "../../src/mcp/notify.js";

let tickets: SandboxTickets;

beforeAll(async () => {
  tickets = await startSandboxTickets();
});
afterAll(async () => {
  await tickets.close();
});
beforeEach(() => tickets.reset());

async function expectCode(p: Promise<unknown>, code: BackstopErrorCode): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isBackstopError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
}

describe("notify client against the sandbox tickets MCP server", () => {
  it("exposes only create_issue although the server offers update/delete/list", async () => {
    const notify = await connectNotify(tickets.url);
    try {
      expect(notify.tools()).toEqual(["create_issue"]);
    } finally {
      await notify.close();
    }
  });

  it("creates a ticket and never calls update or delete", async () => {
    const notify = await connectNotify(tickets.url, { teamId: "team-sre" });
    try {
      const t = await notify.createTicket({
        title: "checkout crashlooping after 9f3e1c2",
        description: "Backstop escalated: see receipt",
        labels: ["incident", "backstop"],
        priority: 1,
      });
      expect(t.id).toBe("BKS-1");
      expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/issue\/BKS-1$/);
      const second = await notify.createTicket({ title: "second", description: "" });
      expect(second.id).toBe("BKS-2");
    } finally {
      await notify.close();
    }
    const issues = tickets.issues();
    expect(issues.map((i) => i.identifier)).toEqual(["BKS-1", "BKS-2"]);
    expect(issues[0]).toMatchObject({ teamId: "team-sre", labels: ["incident", "backstop"], priority: 1 });
    const tools = tickets.calls().map((c) => c.tool);
    expect(tools).toEqual(["create_issue", "create_issue"]);
    expect(tools).not.toContain("update_issue");
    expect(tools).not.toContain("delete_issue");
  });

  it("throws mcp.tool_not_allowed for update/delete/list and sends nothing", async () => {
    const notify = await connectNotify(tickets.url);
    try {
      await expectCode(notify.call("delete_issue", { id: "BKS-1" }), "mcp.tool_not_allowed");
      await expectCode(
        notify.call("update_issue", { id: "BKS-1", state: "Canceled" }),
        "mcp.tool_not_allowed",
      );
      await expectCode(notify.call("list_issues", {}), "mcp.tool_not_allowed");
      await expectCode(notify.call("does_not_exist", {}), "mcp.tool_not_allowed");
    } finally {
      await notify.close();
    }
    expect(tickets.calls()).toEqual([]);
  });

  it("refuses destructive tools even when a caller puts them on the allow-list", async () => {
    const notify = await connectNotify(tickets.url, {
      allow: ["create_issue", "update_issue", "delete_issue"],
    });
    try {
      expect(notify.tools()).toEqual(["create_issue"]);
      await expectCode(notify.call("delete_issue", { id: "BKS-1" }), "mcp.tool_not_allowed");
    } finally {
      await notify.close();
    }
    expect(tickets.calls()).toEqual([]);
  });

  it("an allow-list without create_issue cannot file tickets", async () => {
    const notify = await connectNotify(tickets.url, { allow: ["list_issues"] });
    try {
      expect(notify.tools()).toEqual(["list_issues"]);
      await expectCode(notify.createTicket({ title: "x", description: "y" }), "mcp.tool_not_allowed");
    } finally {
      await notify.close();
    }
  });

  it("rejects a bad ticket before calling the server", async () => {
    const notify = await connectNotify(tickets.url);
    try {
      await expectCode(notify.createTicket({ title: "", description: "y" }), "notify.invalid_ticket");
      await expectCode(
        notify.createTicket({ title: "t", description: "y", priority: 9 }),
        "notify.invalid_ticket",
      );
    } finally {
      await notify.close();
    }
    expect(tickets.calls()).toEqual([]);
  });

  it("fails with mcp.unavailable when nothing listens", async () => {
    const dead = await startSandboxTickets();
    const url = dead.url;
    await dead.close();
    await expectCode(connectNotify(url), "mcp.unavailable");
  });
});
