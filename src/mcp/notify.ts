import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { BackstopError } from "../errors.js";
import { AllowListedMcpClient } from "./allowlist.js";

/** The default notify allow-list: ticket creation only. */
export const NOTIFY_DEFAULT_ALLOW = ["create_issue"] as const;

/** Tool names that change or remove existing data; never callable through the notify client. */
const MUTATING_NAME = /(^|[_-])(update|delete|remove|archive|edit|close|destroy|purge)([_-]|$)/i;

/**
 * Refuses a notify tool that could change or remove existing tickets: annotated `destructiveHint: true`, or
 * named like `update_*` / `delete_*` / `archive_*`, whatever the allow-list says.
 */
export function refuseMutating(tool: Tool): string | null {
  if (tool.annotations?.destructiveHint === true) return "annotated destructiveHint: true";
  if (MUTATING_NAME.test(tool.name)) return "changes or removes existing tickets";
  return null;
}

/**
 * A ticket to file. `priority` follows Linear: 0 none, 1 urgent, 2 high, 3 medium, 4 low.
 * `title` at most 255 chars, `description` (Markdown) at most 50 000 chars.
 */
export const TicketInputSchema = z.object({
  title: z.string().min(1).max(255),
  description: z.string().max(50_000),
  labels: z.array(z.string().min(1)).max(20).optional(),
  priority: z.number().int().min(0).max(4).optional(),
});
export type TicketInput = z.infer<typeof TicketInputSchema>;

/** Options of {@link connectNotify}: the allow-list (default `["create_issue"]`), team, timeout (ms) and headers. */
export interface NotifyClientOptions {
  allow?: string[];
  /** Linear team id sent as `teamId` when set. */
  teamId?: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** Backstop's client of a ticketing MCP server (Linear's remote MCP, or the sandbox's): create only. */
export interface NotifyClient {
  /** The allow-listed, non-mutating tools the server offers. */
  tools(): string[];
  /**
   * Files one ticket through `create_issue`; returns its id (`BKS-1`) and URL (or null when the server gives none).
   * @throws BackstopError `notify.invalid_ticket` (bad input), `mcp.tool_not_allowed` (no allowed
   *   `create_issue`), `mcp.tool_error`, `mcp.unavailable`, `mcp.invalid_output` (no id in the answer).
   */
  createTicket(t: TicketInput): Promise<{ id: string; url: string | null }>;
  /** The raw allow-listed call; anything refused throws `mcp.tool_not_allowed` without reaching the server. */
  call(name: string, args: Record<string, unknown>): Promise<unknown>;
  /** False once a call failed for a connection reason (see {@link AllowListedMcpClient.usable}). */
  usable(): boolean;
  close(): Promise<void>;
}

const CreatedSchema = z
  .object({
    id: z.string().optional(),
    identifier: z.string().optional(),
    url: z.string().nullable().optional(),
  })
  .refine((v) => v.identifier !== undefined || v.id !== undefined, "no id or identifier");

function parseCreated(
  structured: Record<string, unknown> | null,
  text: string,
): { id: string; url: string | null } {
  let candidate: unknown = structured;
  if (candidate === null) {
    try {
      candidate = JSON.parse(text);
    } catch {
      const ident = /\b[A-Z][A-Z0-9]*-\d+\b/.exec(text)?.[0];
      const url = /https?:\/\/\S+/.exec(text)?.[0] ?? null;
      candidate = ident ? { identifier: ident, url } : undefined;
    }
  }
  const parsed = CreatedSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new BackstopError(
      "mcp.invalid_output",
      `create_issue returned no ticket id: ${text.slice(0, 200)}`,
    );
  }
  return { id: (parsed.data.identifier ?? parsed.data.id) as string, url: parsed.data.url ?? null };
}

/**
 * Connects to a ticketing MCP server at `url`. Whatever the server lists and whatever `allow` says, tools that
 * update, delete or are annotated destructive are filtered out of `tools()` and can never be called.
 * @throws BackstopError `mcp.unavailable` when it cannot connect or list tools.
 */
export async function connectNotify(url: string, opts: NotifyClientOptions = {}): Promise<NotifyClient> {
  const mcp = await AllowListedMcpClient.connect(url, {
    clientName: "backstop-notify",
    allow: opts.allow ?? NOTIFY_DEFAULT_ALLOW,
    refuse: refuseMutating,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
  return {
    tools: () => mcp.tools(),
    async createTicket(t) {
      const parsed = TicketInputSchema.safeParse(t);
      if (!parsed.success) {
        throw new BackstopError("notify.invalid_ticket", `invalid ticket: ${parsed.error.message}`);
      }
      const args: Record<string, unknown> = {
        title: parsed.data.title,
        description: parsed.data.description,
      };
      if (parsed.data.labels) args.labels = parsed.data.labels;
      if (parsed.data.priority !== undefined) args.priority = parsed.data.priority;
      if (opts.teamId) args.teamId = opts.teamId;
      const out = await mcp.call("create_issue", args);
      return parseCreated(out.structured, out.text);
    },
    async call(name, args) {
      const out = await mcp.call(name, args);
      return out.structured ?? out.text;
    },
    usable: () => mcp.usable(),
    close: () => mcp.close(),
  };
}
