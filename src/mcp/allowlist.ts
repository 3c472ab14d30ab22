import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError, type Tool } from "@modelcontextprotocol/sdk/types.js";
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from "@modelcontextprotocol/sdk/validation";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { z } from "zod";
import { BackstopError, errorMessage } from "../errors.js";
import { backstopFetch } from "../http.js";
import { childLogger } from "../log.js";

const log = childLogger("mcp");

/** Default per-request timeout of an MCP call (initialize, tools/list, tools/call), ms. */
export const DEFAULT_MCP_TIMEOUT_MS = 30_000;

/**
 * Options of {@link AllowListedMcpClient.connect}.
 * - `clientName`: the `clientInfo.name` sent in `initialize`.
 * - `allow`: the only tool names that may ever be exposed or called.
 * - `refuse`: a second, content-based filter: given a tool the server lists (name, annotations), return a reason
 *   to refuse it (e.g. `destructiveHint: true`) or null. A refused tool is treated as not allowed.
 * - `timeoutMs`: per-request timeout, ms (default 30 000).
 * - `headers`: extra HTTP headers on every request (e.g. `Authorization: Bearer …` for a remote server).
 */
export interface AllowListOptions {
  clientName: string;
  allow: readonly string[];
  refuse?: (tool: Tool) => string | null;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** What a successful `tools/call` gave back: the structured content (or null) and the text blocks joined. */
export interface ToolCallOutput {
  structured: Record<string, unknown> | null;
  text: string;
}

const AllowListOptionsSchema = z.object({
  clientName: z.string().min(1),
  allow: z.array(z.string().min(1)),
  timeoutMs: z.number().int().positive().optional(),
});

/** At most this many compiled output-schema validators are kept per process. */
const MAX_VALIDATORS = 256;

/**
 * The SDK client's JSON Schema validator (Ajv, as the SDK's default) with its compiled validators kept
 * per process, keyed by the schema's JSON. The SDK compiles a validator for every tool's `outputSchema`
 * on each `tools/list`, and an Ajv compile costs milliseconds; a server lists the same schemas every
 * time, so every client after the first reuses them. Holds at most {@link MAX_VALIDATORS}, oldest out first.
 */
class CachedJsonSchemaValidator implements jsonSchemaValidator {
  private readonly ajv = new AjvJsonSchemaValidator();
  private readonly made = new Map<string, JsonSchemaValidator<unknown>>();

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const key = JSON.stringify(schema);
    let v = this.made.get(key);
    if (v === undefined) {
      v = this.ajv.getValidator<unknown>(schema);
      this.made.set(key, v);
      if (this.made.size > MAX_VALIDATORS) this.made.delete(this.made.keys().next().value as string);
    }
    return v as JsonSchemaValidator<T>;
  }
}

const sharedValidator = new CachedJsonSchemaValidator();

function isConnectionProblem(err: unknown): boolean {
  if (err instanceof McpError) {
    return err.code === ErrorCode.RequestTimeout || err.code === ErrorCode.ConnectionClosed;
  }
  return true; // fetch TypeError, StreamableHTTPError (HTTP 4xx/5xx from the endpoint), aborts
}

/**
 * An MCP client (streamable HTTP, `@modelcontextprotocol/sdk` Client) that exposes and calls only allow-listed
 * tools. The server's `tools/list` is intersected with `allow` (and filtered by `refuse`) once at connect;
 * {@link tools} returns that set, and {@link call} refuses anything outside it *before* sending a request, so a
 * tool the server offers but Backstop does not allow can never be invoked, whatever name a caller (or a model)
 * passes. Shared by the infra client (read-only tools) and the notify client (ticket creation only).
 */
export class AllowListedMcpClient {
  private lostConnection = false;

  private constructor(
    private readonly client: Client,
    private readonly transport: StreamableHTTPClientTransport,
    private readonly exposed: Map<string, Tool>,
    /** Every tool name the server listed, allowed or not (for logs and tests). */
    readonly serverTools: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  /**
   * Connects to the MCP endpoint `url` (e.g. `http://127.0.0.1:PORT/mcp`), runs `initialize` and `tools/list`.
   * @throws BackstopError `mcp.invalid_options` on bad options, `mcp.unavailable` when the server cannot be
   *   reached, answers HTTP errors, or the handshake or listing fails.
   */
  static async connect(url: string, opts: AllowListOptions): Promise<AllowListedMcpClient> {
    const parsed = AllowListOptionsSchema.safeParse(opts);
    if (!parsed.success)
      throw new BackstopError("mcp.invalid_options", `invalid MCP client options: ${parsed.error.message}`);
    let endpoint: URL;
    try {
      endpoint = new URL(url);
    } catch (err) {
      throw new BackstopError("mcp.invalid_options", `invalid MCP URL: ${url}`, { cause: err });
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
    const transport = new StreamableHTTPClientTransport(endpoint, {
      requestInit: opts.headers ? { headers: opts.headers } : undefined,
      fetch: backstopFetch(),
      reconnectionOptions: {
        maxRetries: 0,
        initialReconnectionDelay: 1000,
        maxReconnectionDelay: 1000,
        reconnectionDelayGrowFactor: 1,
      },
    });
    const client = new Client(
      { name: opts.clientName, version: "0.1.0" },
      { capabilities: {}, jsonSchemaValidator: sharedValidator },
    );
    let listed: Tool[];
    try {
      await client.connect(transport, { timeout: timeoutMs });
      listed = (await client.listTools(undefined, { timeout: timeoutMs })).tools;
    } catch (err) {
      await client.close().catch(() => undefined);
      throw new BackstopError(
        "mcp.unavailable",
        `MCP server ${endpoint.origin} unavailable: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    const allow = new Set(opts.allow);
    const exposed = new Map<string, Tool>();
    for (const tool of listed) {
      if (!allow.has(tool.name)) continue;
      const reason = opts.refuse?.(tool) ?? null;
      if (reason !== null) {
        log.warn({ tool: tool.name, reason }, "allow-listed tool refused");
        continue;
      }
      exposed.set(tool.name, tool);
    }
    const hidden = listed.map((t) => t.name).filter((n) => !exposed.has(n));
    log.debug({ client: opts.clientName, exposed: [...exposed.keys()], hidden }, "MCP tools filtered");
    return new AllowListedMcpClient(
      client,
      transport,
      exposed,
      listed.map((t) => t.name),
      timeoutMs,
    );
  }

  /** The allow-listed tools this server offers, sorted by name. Never includes a tool outside the allow-list. */
  tools(): string[] {
    return [...this.exposed.keys()].sort();
  }

  /** The MCP `Tool` definition (description, schemas, annotations) of an exposed tool, or undefined. */
  describe(name: string): Tool | undefined {
    return this.exposed.get(name);
  }

  /**
   * Calls an exposed tool with `args` (`tools/call`).
   * @throws BackstopError `mcp.tool_not_allowed` (not exposed: nothing is sent), `mcp.tool_error` (the tool
   *   answered `isError: true`, or the server rejected the call, e.g. invalid arguments; message = its text),
   *   `mcp.unavailable` (network failure, HTTP error, timeout).
   */
  async call(name: string, args: Record<string, unknown>): Promise<ToolCallOutput> {
    if (!this.exposed.has(name)) {
      throw new BackstopError("mcp.tool_not_allowed", `MCP tool "${name}" is not allowed for this client`, {
        details: { tool: name, allowed: this.tools() },
      });
    }
    let result: Awaited<ReturnType<Client["callTool"]>>;
    try {
      result = await this.client.callTool({ name, arguments: args }, undefined, { timeout: this.timeoutMs });
    } catch (err) {
      if (isConnectionProblem(err)) {
        this.lostConnection = true;
        throw new BackstopError("mcp.unavailable", `MCP call ${name} failed: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      throw new BackstopError("mcp.tool_error", `MCP tool ${name} rejected the call: ${errorMessage(err)}`, {
        cause: err,
        details: { tool: name },
      });
    }
    const content = Array.isArray(result.content) ? result.content : [];
    const text = content
      .filter((c): c is { type: "text"; text: string } => (c as { type?: unknown }).type === "text")
      .map((c) => c.text)
      .join("\n");
    if (result.isError) {
      throw new BackstopError("mcp.tool_error", text || `MCP tool ${name} failed`, {
        details: { tool: name },
      });
    }
    const structured =
      result.structuredContent && typeof result.structuredContent === "object"
        ? (result.structuredContent as Record<string, unknown>)
        : null;
    return { structured, text };
  }

  /**
   * False once a call failed for a connection reason (network, HTTP error such as an expired session's
   * 404, timeout): a pool should connect afresh rather than hand this client to another run.
   */
  usable(): boolean {
    return !this.lostConnection;
  }

  /** Closes the transport. Safe to call twice. */
  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await this.transport.close().catch(() => undefined);
  }
}

/**
 * The structured result of a call, or the JSON in its text when the server sent no `structuredContent`,
 * parsed by `schema`.
 * @throws BackstopError `mcp.invalid_output` when neither parses.
 */
export function parseToolOutput<T>(tool: string, out: ToolCallOutput, schema: z.ZodType<T>): T {
  let candidate: unknown = out.structured;
  if (candidate === null) {
    try {
      candidate = JSON.parse(out.text);
    } catch {
      candidate = undefined;
    }
  }
  const parsed = schema.safeParse(candidate);
  if (!parsed.success) {
    throw new BackstopError(
      "mcp.invalid_output",
      `MCP tool ${tool} returned an unexpected shape: ${parsed.error.message}`,
      {
        details: { tool },
      },
    );
  }
  return parsed.data;
}
