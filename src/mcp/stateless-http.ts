import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import type { Express, Request, Response } from "express";

/**
 * One JSON Schema validator (the SDK's Ajv provider) for every per-request server of a process: pass it
 * as `jsonSchemaValidator` to the `McpServer` that `build()` makes, or the SDK makes a new Ajv instance
 * per server, i.e. per request in stateless mode.
 */
export const STATELESS_SCHEMA_VALIDATOR = new AjvJsonSchemaValidator();

/**
 * Mounts an MCP server at `POST {path}` over streamable HTTP (MCP spec 2025-06-18, "Streamable HTTP")
 * in stateless mode: each request gets a fresh server from `build()` and its own transport, closed
 * with the response, so any number of clients can come and go and nothing is kept per session.
 * Each request is answered with one `application/json` body (the transport's `enableJsonResponse`; the
 * spec lets a server answer a POST with JSON or an SSE stream): no tool here sends notifications
 * during a call, and JSON spares both sides the SSE framing and stream parsing (about 15 % of
 * mcp-infra's CPU per `get_signals` in `bench/infra-cpu.ts`).
 * `GET`/`DELETE {path}` answer 405 (no server-initiated stream, no sessions). A failure inside the
 * transport answers a JSON-RPC internal error (-32603) and is passed to `onError`.
 * Use it on an app from the SDK's `createMcpExpressApp` (DNS-rebinding protection on loopback).
 */
export function mountStatelessMcp(
  app: Express,
  build: () => McpServer,
  opts: { path?: string; onError: (err: unknown) => void; onRequest?: (body: unknown) => void },
): void {
  const path = opts.path ?? "/mcp";
  app.post(path, async (req: Request, res: Response) => {
    opts.onRequest?.(req.body);
    const server = build();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      opts.onError(err);
      if (!res.headersSent) {
        res
          .status(500)
          .json({ jsonrpc: "2.0", error: { code: -32603, message: "Internal server error" }, id: null });
      }
    }
  });
  const notAllowed = (_req: Request, res: Response) => {
    res
      .status(405)
      .set("Allow", "POST")
      .json({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null });
  };
  app.get(path, notAllowed);
  app.delete(path, notAllowed);
}
