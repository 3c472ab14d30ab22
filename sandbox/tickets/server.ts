import { createServer } from "node:http";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Request, Response } from "express";
import { z } from "zod";
import * as zm from "zod/v4-mini";
import { mountStatelessMcp, STATELESS_SCHEMA_VALIDATOR } from "../../src/mcp/stateless-http.js";
import { closeServer, listen, sendJson } from "../http.js";

/**
 * A Linear-like issue in the sandbox tickets server. `id` and `identifier` are the same `BKS-<n>` key;
 * `priority` follows Linear (0 none, 1 urgent, 2 high, 3 medium, 4 low); times are ISO-8601.
 */
export interface Issue {
  id: string;
  identifier: string;
  title: string;
  description: string;
  teamId: string;
  labels: string[];
  priority: number;
  state: "Triage" | "Todo" | "In Progress" | "Done" | "Canceled";
  url: string;
  createdAt: string;
  updatedAt: string;
}

/** One recorded `tools/call` request, as it reached the HTTP endpoint (before any validation). */
export interface RecordedCall {
  tool: string;
  args: unknown;
}

/** The running sandbox tickets server. */
export interface SandboxTickets {
  /** MCP endpoint, `http://127.0.0.1:PORT/mcp`. */
  url: string;
  /** Current issues (deleted ones removed), oldest first. */
  issues(): Issue[];
  /** Every `tools/call` received, in order, including refused and invalid ones. */
  calls(): RecordedCall[];
  /** Forgets all issues and calls; numbering restarts at BKS-1. */
  reset(): void;
  close(): Promise<void>;
}

const IssueOutput = z.object({ id: z.string(), identifier: z.string(), url: z.string() });
const READ = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
} as const;
const DESTRUCTIVE = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: true,
  openWorldHint: true,
} as const;

/*
 * The tools' definitions are built once: the server is stateless (one `McpServer` per request), and
 * building zod schemas and the SDK's JSON-schema validator per request cost more than the request itself.
 * Each input shape is wrapped as `registerTool` wraps a raw shape (the SDK's `objectFromShape`: zod mini's `object`).
 */
const CREATE_ISSUE = {
  title: "Create issue",
  description: "Creates an issue in a team. Returns its id, identifier (e.g. BKS-1) and URL.",
  inputSchema: zm.object({
    title: z.string().min(1).max(255),
    description: z.string().max(50_000).default(""),
    teamId: z.string().min(1).optional(),
    labels: z.array(z.string().min(1)).optional(),
    priority: z.number().int().min(0).max(4).optional(),
  }),
  outputSchema: IssueOutput,
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  },
};
const LIST_ISSUES = {
  title: "List issues",
  description: "Lists issues, newest first (at most 50).",
  inputSchema: zm.object({ limit: z.number().int().min(1).max(50).default(50) }),
  annotations: READ,
};
const UPDATE_ISSUE = {
  title: "Update issue",
  description: "Updates an issue's title, description, state, labels or priority.",
  inputSchema: zm.object({
    id: z.string().min(1),
    title: z.string().min(1).optional(),
    description: z.string().optional(),
    state: z.enum(["Triage", "Todo", "In Progress", "Done", "Canceled"]).optional(),
    labels: z.array(z.string()).optional(),
    priority: z.number().int().min(0).max(4).optional(),
  }),
  annotations: DESTRUCTIVE,
};
const DELETE_ISSUE = {
  title: "Delete issue",
  description: "Deletes an issue permanently.",
  inputSchema: zm.object({ id: z.string().min(1) }),
  annotations: DESTRUCTIVE,
};

function ok(structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured };
}
function fail(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/**
 * Starts a Linear-like tickets MCP server over streamable HTTP (stateless; one `McpServer` per request over
 * shared state). Tools: `create_issue` (title, description, teamId?, labels?, priority?) → `{ id: "BKS-1",
 * identifier, url }`; `list_issues` (read-only); `update_issue` and `delete_issue` (`destructiveHint: true`),
 * offered on purpose so tests prove Backstop's notify client filters them out. Every `tools/call` is recorded.
 * Binds `host` (default 127.0.0.1) on `port` (default 0).
 */
export async function startSandboxTickets(
  opts: { host?: string; port?: number } = {},
): Promise<SandboxTickets> {
  const host = opts.host ?? "127.0.0.1";
  let issues: Issue[] = [];
  let calls: RecordedCall[] = [];
  let seq = 0;
  let base = "";

  const build = (): McpServer => {
    const server = new McpServer(
      { name: "sandbox-tickets", version: "0.1.0" },
      { capabilities: { tools: {} }, jsonSchemaValidator: STATELESS_SCHEMA_VALIDATOR },
    );
    server.registerTool("create_issue", CREATE_ISSUE, async (a) => {
      seq += 1;
      const identifier = `BKS-${seq}`;
      const now = new Date().toISOString();
      const issue: Issue = {
        id: identifier,
        identifier,
        title: a.title,
        description: a.description,
        teamId: a.teamId ?? "team-backstop",
        labels: a.labels ?? [],
        priority: a.priority ?? 0,
        state: "Triage",
        url: `${base}/issue/${identifier}`,
        createdAt: now,
        updatedAt: now,
      };
      issues.push(issue);
      return ok({ id: issue.id, identifier, url: issue.url });
    });
    server.registerTool("list_issues", LIST_ISSUES, async ({ limit }) =>
      ok({ issues: [...issues].reverse().slice(0, limit) }),
    );
    server.registerTool("update_issue", UPDATE_ISSUE, async ({ id, ...patch }) => {
      const issue = issues.find((i) => i.id === id);
      if (!issue) return fail(`issue ${id} not found`);
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) Object.assign(issue, { [k]: v });
      issue.updatedAt = new Date().toISOString();
      return ok({ id: issue.id, identifier: issue.identifier, url: issue.url });
    });
    server.registerTool("delete_issue", DELETE_ISSUE, async ({ id }) => {
      const before = issues.length;
      issues = issues.filter((i) => i.id !== id);
      return before === issues.length ? fail(`issue ${id} not found`) : ok({ id, deleted: true });
    });
    return server;
  };

  const app = createMcpExpressApp({ host });
  mountStatelessMcp(app, build, {
    onRequest: (body) => {
      const messages: unknown[] = Array.isArray(body) ? body : [body];
      for (const m of messages) {
        const msg = m as { method?: unknown; params?: { name?: unknown; arguments?: unknown } } | null;
        if (msg?.method === "tools/call")
          calls.push({ tool: String(msg.params?.name), args: msg.params?.arguments });
      }
    },
    onError: (err) => console.error("sandbox tickets: request failed", err),
  });
  app.get("/issue/:id", (req: Request, res: Response) => {
    const issue = issues.find((i) => i.id === req.params.id);
    if (issue) sendJson(res, 200, issue);
    else sendJson(res, 404, { error: "not found" });
  });

  const http = createServer(app);
  const { port } = await listen(http, opts.port ?? 0, host);
  base = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url: `${base}/mcp`,
    issues: () => issues.map((i) => ({ ...i, labels: [...i.labels] })),
    calls: () => calls.map((c) => ({ ...c })),
    reset: () => {
      issues = [];
      calls = [];
      seq = 0;
    },
    close: () => closeServer(http),
  };
}
