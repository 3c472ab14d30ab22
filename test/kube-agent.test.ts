import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import {
  CoreV1Api,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
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
  const mw: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      pool?.reuse(ctx);
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx) => new Observable(Promise.resolve(ctx)),
  };
  return { middleware: [mw], middlewareMergeStrategy: "append" as const };
}

describe("KubeAgentPool", () => {
  it("without it, client-node opens a new TLS connection for every call", async () => {
    const api = core("token-a");
    for (let i = 0; i < 4; i++) await api.listNamespace({}, through(null));
    expect(connections).toBe(4);
  });

  it("puts sequential calls with the same TLS identity on one connection", async () => {
    const pool = new KubeAgentPool();
    try {
      const api = core("token-a");
      for (let i = 0; i < 4; i++) await api.listNamespace({}, through(pool));
      expect(connections).toBe(1);
    } finally {
      pool.close();
    }
  });

  it("keeps each call's own bearer token on a shared connection", async () => {
    const pool = new KubeAgentPool();
    try {
      await core("token-a").listNamespace({}, through(pool));
      await core("token-b").listNamespace({}, through(pool));
      expect(connections).toBe(1);
      expect(tokens).toEqual(["Bearer token-a", "Bearer token-b"]);
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
      for (const client of [first, first, rotated, rotated, first]) {
        await core("token-a", { client }).listNamespace({}, through(pool));
      }
      expect(connections).toBe(2);
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
});
