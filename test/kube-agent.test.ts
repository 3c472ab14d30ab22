import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  Observable,
  type RequestContext,
} from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateSandboxTls } from "../sandbox/cluster/tls.js";
import { KubeAgentPool } from "../src/kube.js";

// A real TLS server answering every request with an empty NamespaceList, counting TLS connections and
// recording each request's bearer token.
let server: Server;
let url: string;
let caPem: string;
let connections = 0;
const tokens: string[] = [];

beforeAll(async () => {
  const tls = await generateSandboxTls("127.0.0.1");
  caPem = tls.caPem;
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    tokens.push(req.headers.authorization ?? "");
    res.setHeader("content-type", "application/json");
    if (req.url === "/api/v1/namespaces/missing") {
      res.statusCode = 404;
      res.end(
        JSON.stringify({
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "NotFound",
          code: 404,
        }),
      );
      return;
    }
    if (req.url === "/api/v1/namespaces/slow") return; // never answers
    if (req.method === "POST") {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => res.end(body));
      return;
    }
    res.end(JSON.stringify({ apiVersion: "v1", kind: "NamespaceList", metadata: {}, items: [] }));
  });
  server.on("secureConnection", () => {
    connections++;
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
afterEach(() => {
  connections = 0;
  tokens.length = 0;
});

function core(
  token: string,
  opts: { skipTLSVerify?: boolean; client?: { certPem: string; keyPem: string } } = {},
): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: "c",
        server: url,
        caData: Buffer.from(caPem).toString("base64"),
        skipTLSVerify: opts.skipTLSVerify ?? false,
      },
    ],
    users: [
      {
        name: "u",
        token,
        ...(opts.client
          ? {
              certData: Buffer.from(opts.client.certPem).toString("base64"),
              keyData: Buffer.from(opts.client.keyPem).toString("base64"),
            }
          : {}),
      },
    ],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kc.makeApiClient(CoreV1Api);
}

function through(pool: KubeAgentPool | null) {
  return pool ? { httpApi: pool.httpApi } : {};
}

describe("KubeAgentPool", () => {
  it("without it, client-node opens a new TLS connection for every call", async () => {
    const api = core("token-a");
    for (let i = 0; i < 4; i++) await api.listNamespace({}, through(null));
    expect(connections).toBe(4);
  });

  // undici opens a second connection when the next request comes before the first connection is marked
  // free (it is then reused); so "shared" here means at most two connections, however many calls.
  it("puts sequential calls with the same TLS identity on one or two connections", async () => {
    const pool = new KubeAgentPool();
    try {
      const api = core("token-a");
      for (let i = 0; i < 12; i++) await api.listNamespace({}, through(pool));
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      pool.close();
    }
  });

  it("keeps each call's own bearer token on a shared connection", async () => {
    const pool = new KubeAgentPool();
    try {
      for (const t of ["token-a", "token-b", "token-a", "token-b", "token-c"]) {
        await core(t).listNamespace({}, through(pool));
      }
      expect(connections).toBeLessThanOrEqual(2);
      expect(tokens).toEqual(["a", "b", "a", "b", "c"].map((t) => `Bearer token-${t}`));
    } finally {
      pool.close();
    }
  });

  it("never shares a connection between different TLS options", async () => {
    const pool = new KubeAgentPool();
    try {
      await core("token-a").listNamespace({}, through(pool));
      await core("token-a", { skipTLSVerify: true }).listNamespace({}, through(pool));
      await core("token-a").listNamespace({}, through(pool));
      expect(connections).toBe(2);
    } finally {
      pool.close();
    }
  });

  it("gives a rotated client certificate its own connection, and the old one's back when it returns", async () => {
    const [first, rotated] = await Promise.all([generateSandboxTls("a"), generateSandboxTls("b")]);
    const pool = new KubeAgentPool();
    try {
      for (const client of [first, first, first, rotated, rotated, rotated, first, first, first]) {
        await core("token-a", { client }).listNamespace({}, through(pool));
      }
      // At least one per identity, at most two each: the first identity's come back with it.
      expect(connections).toBeGreaterThanOrEqual(2);
      expect(connections).toBeLessThanOrEqual(4);
    } finally {
      pool.close();
    }
  });

  it("opens new connections after close()", async () => {
    const pool = new KubeAgentPool();
    await core("token-a").listNamespace({}, through(pool));
    pool.close();
    await core("token-a").listNamespace({}, through(pool));
    pool.close();
    expect(connections).toBe(2);
  });

  it("sends bodies, answers errors as client-node's ApiException, and aborts at the call's deadline", async () => {
    const pool = new KubeAgentPool();
    try {
      const api = core("token-a");
      const created = await api.createNamespace(
        { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } } },
        through(pool),
      );
      expect(created.metadata?.name).toBe("shop");
      const missing = await api.readNamespace({ name: "missing" }, through(pool)).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ApiException);
      expect((missing as ApiException<unknown>).code).toBe(404);
      expect(String((missing as ApiException<unknown>).body)).toContain("NotFound");
      const deadline = {
        ...through(pool),
        middleware: [
          {
            pre: (ctx: RequestContext) => {
              ctx.setSignal(AbortSignal.timeout(100));
              return new Observable(Promise.resolve(ctx));
            },
            post: (ctx: never) => new Observable(Promise.resolve(ctx)),
          },
        ],
        middlewareMergeStrategy: "append" as const,
      };
      const slow = await api.readNamespace({ name: "slow" }, deadline).catch((e: unknown) => e);
      expect((slow as Error).name).toBe("TimeoutError");
    } finally {
      pool.close();
    }
  });
});
