/**
 * The /run web console's HTTP server: the built front-end from `dist/console/` and a small JSON API over a
 * {@link ConsoleBackend}, with Server-Sent Events for live updates (WHATWG HTML, "Server-sent events":
 * `text/event-stream`, `data:` lines, `:` comment lines as heartbeats).
 *
 * Routes:
 * - `GET /api/scenarios` → `ScenarioInfo[]`; `POST /api/scenarios/:name/fire` → `{ backstopRunId, naiveRunId }`
 * - `GET /api/channels` → `string[]`; `GET /api/messages?channel=C…` → `ConsoleMessage[]`
 * - `POST /api/click` (JSON body, zod-validated) → `{ status }`, the bot's HTTP status for the interaction
 * - `GET /api/users` → `ConsoleUser[]`
 * - `GET /api/cluster/:agent`, `GET /api/agents/:agent` (`naive` | `backstop`) → `ClusterView`, `AgentView | null`
 * - `GET /api/receipts/:runId` (download), `GET /api/receipts/:runId/verify` → `VerifyResult`
 * - `GET /api/files/:id` → the file's bytes, as an attachment
 * - `GET /api/events` → SSE: `data: {"what":"slack"}` per change, `: heartbeat` every 15 s
 *
 * Bad input → 400 `{ error }`; unknown resource → 404 `{ error }`; a backend failure → 500 `{ error }`.
 * Bound to 127.0.0.1 by default; requests whose `Host` or `Origin` is not this server are refused (403), so
 * a web page elsewhere cannot click Approve through a DNS-rebinding or cross-site request.
 */
import { existsSync } from "node:fs";
import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import express, { type NextFunction, type Request, type Response } from "express";
import { z } from "zod";
import { BackstopError, errorMessage, formatZodIssues } from "../../src/errors.js";
import { childLogger } from "../../src/log.js";
import { resolveInPackage } from "../../src/paths.js";
import type { ConsoleBackend, ConsoleChange } from "./backend.js";

const log = childLogger("console");

/** Interval between SSE heartbeat comments, in ms (keeps proxies from closing an idle stream). */
export const HEARTBEAT_MS = 15_000;

/** Slack timestamps: seconds, a dot, microseconds (`1712345678.000100`). */
const SLACK_TS = /^\d{1,12}\.\d{1,9}$/;

/** The body of `POST /api/click`: one Block Kit button press, as the chosen sandbox user. */
export const ClickSchema = z.strictObject({
  channel: z.string().regex(/^[A-Z0-9]{1,40}$/, "expected a Slack channel id such as C0INCIDENTS"),
  message_ts: z.string().regex(SLACK_TS, "expected a Slack ts such as 1712345678.000100"),
  thread_ts: z.string().regex(SLACK_TS, "expected a Slack ts such as 1712345678.000100").nullable(),
  action_id: z.string().min(1).max(255),
  value: z.string().max(2000),
  user_id: z.string().regex(/^[UW][A-Z0-9]{1,40}$/, "expected a Slack user id such as U0APPROVER"),
});

const AgentParam = z.enum(["naive", "backstop"]);
const IdParam = z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, "expected letters, digits, . _ : -");

/** Options for {@link startConsole}. `host` defaults to `127.0.0.1`, `port` to 0 (any free port). */
export interface ConsoleOptions {
  backend: ConsoleBackend;
  host?: string;
  port?: number;
  /** Folder of the built front-end; defaults to `resolveInPackage("dist", "console")`. */
  staticDir?: string;
}

/** The `:agent` path parameter, or null after answering 404. */
function agentParam(req: Request, res: Response): z.infer<typeof AgentParam> | null {
  const agent = AgentParam.safeParse(req.params.agent);
  if (agent.success) return agent.data;
  sendError(res, 404, `unknown agent "${String(req.params.agent)}"; expected naive or backstop`);
  return null;
}

/** The `:runId` path parameter, or null after answering 400. */
function runIdParam(req: Request, res: Response): string | null {
  const runId = IdParam.safeParse(req.params.runId);
  if (runId.success) return runId.data;
  sendError(res, 400, `bad run id: ${zodMessage(runId.error)}`);
  return null;
}

/** A running console: `url` like `http://127.0.0.1:43121`; `close()` ends SSE streams and the listener. */
export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

const MISSING_BUILD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backstop console: not built</title></head>
<body style="font-family: sans-serif; margin: 3rem">
<h1>The console front-end is not built</h1>
<p>Run <code>npm run build</code> in the Backstop folder, then reload this page.</p>
</body></html>
`;

function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost" || host.startsWith("127.");
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith("[")) return hostHeader.slice(1, hostHeader.indexOf("]"));
  const colon = hostHeader.lastIndexOf(":");
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

function sendError(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

function zodMessage(err: z.ZodError): string {
  return formatZodIssues(err, { root: "body" });
}

/** A filename safe inside a quoted `Content-Disposition` parameter (RFC 6266): no quotes, slashes or controls. */
function safeFilename(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._ -]/g, "_").slice(0, 200);
  return cleaned.length > 0 ? cleaned : "file";
}

/**
 * Starts the console on `host:port` over `backend`. Resolves once listening.
 * Throws `BackstopError("console.listen")` when the port cannot be bound.
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const { backend } = options;
  const host = options.host ?? "127.0.0.1";
  const staticDir = options.staticDir ?? resolveInPackage("dist", "console");
  const app = express();
  app.disable("x-powered-by");
  const streams = new Set<ServerResponse>();

  app.use((req: Request, res: Response, next: NextFunction) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    if (isLoopback(host)) {
      const hostHeader = req.headers.host ?? "";
      if (!isLoopback(hostnameOf(hostHeader))) {
        sendError(res, 403, `this console answers only on loopback; Host "${hostHeader}" refused`);
        return;
      }
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== "null") {
      let originHost = "";
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = "";
      }
      if (originHost !== req.headers.host) {
        sendError(res, 403, `cross-origin request from ${origin} refused`);
        return;
      }
    }
    next();
  });

  app.use("/api", express.json({ limit: "64kb" }));

  app.get("/api/scenarios", (_req, res) => {
    res.json(backend.scenarios());
  });

  app.post("/api/scenarios/:name/fire", async (req, res) => {
    const name = req.params.name;
    if (!backend.scenarios().some((s) => s.name === name)) {
      sendError(res, 404, `unknown scenario "${name}"; GET /api/scenarios lists them`);
      return;
    }
    res.json(await backend.fire(name));
  });

  app.get("/api/channels", (_req, res) => {
    res.json(backend.channels());
  });

  app.get("/api/messages", (req, res) => {
    const channel = req.query.channel;
    if (typeof channel !== "string" || channel.length === 0) {
      sendError(res, 400, "expected ?channel=<channel id>, one of GET /api/channels");
      return;
    }
    if (!backend.channels().includes(channel)) {
      sendError(res, 404, `unknown channel "${channel}"`);
      return;
    }
    res.json(backend.messages(channel));
  });

  app.post("/api/click", async (req, res) => {
    if (!req.is("application/json")) {
      sendError(res, 400, "expected a JSON body (Content-Type: application/json)");
      return;
    }
    const parsed = ClickSchema.safeParse(req.body);
    if (!parsed.success) {
      sendError(res, 400, `bad click: ${zodMessage(parsed.error)}`);
      return;
    }
    if (!backend.users().some((u) => u.id === parsed.data.user_id)) {
      sendError(
        res,
        400,
        `bad click: user_id "${parsed.data.user_id}" is not a sandbox user (GET /api/users)`,
      );
      return;
    }
    const result = await backend.click(parsed.data);
    res.json({ status: result.status });
  });

  app.get("/api/users", (_req, res) => {
    res.json(backend.users());
  });

  app.get("/api/cluster/:agent", (req, res) => {
    const agent = agentParam(req, res);
    if (agent) res.json(backend.cluster(agent));
  });

  app.get("/api/agents/:agent", (req, res) => {
    const agent = agentParam(req, res);
    if (agent) res.json(backend.agent(agent));
  });

  app.get("/api/receipts/:runId", async (req, res) => {
    const runId = runIdParam(req, res);
    if (runId === null) return;
    const text = await backend.receipt(runId);
    if (text === null) {
      sendError(res, 404, `no receipt for run "${runId}"`);
      return;
    }
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.setHeader("Content-Disposition", `attachment; filename="backstop-receipt-${runId}.json"`);
    res.send(Buffer.from(text, "utf8"));
  });

  app.get("/api/receipts/:runId/verify", async (req, res) => {
    const runId = runIdParam(req, res);
    if (runId === null) return;
    const result = await backend.verify(runId);
    if (result === null) {
      sendError(res, 404, `no receipt for run "${runId}"`);
      return;
    }
    res.json(result);
  });

  app.get("/api/files/:id", async (req, res) => {
    const id = IdParam.safeParse(req.params.id);
    if (!id.success) {
      sendError(res, 400, `bad file id: ${zodMessage(id.error)}`);
      return;
    }
    const file = await backend.fileBytes(id.data);
    if (file === null) {
      sendError(res, 404, `no file "${id.data}"`);
      return;
    }
    res.setHeader("Content-Type", file.mimetype);
    res.setHeader("Content-Disposition", `attachment; filename="${safeFilename(file.name)}"`);
    res.send(file.bytes);
  });

  app.get("/api/events", (req, res) => {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.write(": connected\n\n");
    streams.add(res);
    const unsubscribe = backend.onChange((what: ConsoleChange) => {
      res.write(`data: ${JSON.stringify({ what })}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(": heartbeat\n\n"), HEARTBEAT_MS);
    heartbeat.unref();
    req.on("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    });
  });

  app.use("/api", (req, res) => {
    sendError(res, 404, `no such API route: ${req.method} ${req.originalUrl}`);
  });

  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (!existsSync(join(staticDir, "index.html"))) {
      res.status(500).type("html").send(MISSING_BUILD_PAGE);
      return;
    }
    next();
  });
  app.use(express.static(staticDir, { index: "index.html", fallthrough: true }));
  app.use((req, res) => {
    res.status(404).type("text").send(`not found: ${req.path}`);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status =
      typeof err === "object" && err !== null && "status" in err && typeof err.status === "number"
        ? err.status
        : 500;
    if (status >= 500) log.error({ err, path: req.path }, "console request failed");
    if (res.headersSent) {
      res.end();
      return;
    }
    sendError(res, status, status === 400 ? `bad request: ${errorMessage(err)}` : errorMessage(err));
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? 0, host, (err?: Error) => {
      if (err)
        reject(
          new BackstopError("console.listen", `cannot listen on ${host}:${options.port ?? 0}`, {
            cause: err,
          }),
        );
      else resolve(s);
    });
    s.once("error", (err) =>
      reject(
        new BackstopError("console.listen", `cannot listen on ${host}:${options.port ?? 0}`, { cause: err }),
      ),
    );
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${urlHost}:${address.port}`;
  log.info({ url }, "console listening");

  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const res of streams) res.end();
        streams.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
