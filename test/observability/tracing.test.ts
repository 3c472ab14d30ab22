import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { setLogFormat, setLogOutput } from "../../src/log.js";
import { logFields, setupTracing, withRunId } from "../../src/observability/index.js";

describe("tracing setup", () => {
  it("is a no-op without an OTLP endpoint: spans do not record", () => {
    const t = setupTracing({ tracesUrl: null });
    expect(t.enabled).toBe(false);
    const span = t.tracer.startSpan("x");
    expect(span.isRecording()).toBe(false);
    span.end();
  });

  it("exports spans over OTLP/HTTP to the configured endpoint, with its headers and service.name", async () => {
    const got: { path: string; headers: Record<string, unknown>; body: string }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        got.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const config = loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: `${base}/`,
        OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=backstop,authorization=Bearer%20abc",
        OTEL_SERVICE_NAME: "backstop-test",
      });
      expect(config.observability.tracesUrl).toBe(`${base}/v1/traces`);
      const t = setupTracing({
        tracesUrl: config.observability.tracesUrl,
        headers: config.observability.otlpHeaders,
        serviceName: config.observability.serviceName,
      });
      expect(t.enabled).toBe(true);
      t.tracer.startSpan("backstop.run", { attributes: { "backstop.run_id": "run-otlp-1" } }).end();
      await t.shutdown();
      expect(got).toHaveLength(1);
      expect(got[0]!.path).toBe("/v1/traces");
      expect(got[0]!.headers["x-tenant"]).toBe("backstop");
      expect(got[0]!.headers.authorization).toBe("Bearer abc");
      expect(got[0]!.body).toContain("backstop.run");
      expect(got[0]!.body).toContain("run-otlp-1");
      expect(got[0]!.body).toContain("backstop-test");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("observability settings", () => {
  it("a traces endpoint wins over the base endpoint; none means no tracing", () => {
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://other:4318/custom",
      }).observability.tracesUrl,
    ).toBe("http://other:4318/custom");
    expect(loadConfig({}).observability).toMatchObject({
      tracesUrl: null,
      metricsPort: 9464,
      otlpHeaders: {},
    });
    expect(loadConfig({ BACKSTOP_METRICS_PORT: "9100" }).observability.metricsPort).toBe(9100);
  });

  it("bad values are named", () => {
    expect(() => loadConfig({ BACKSTOP_METRICS_PORT: "70000" })).toThrow(/BACKSTOP_METRICS_PORT/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318 nope" })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: "novalue" })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS/);
    expect(() => loadConfig({ LOG_FORMAT: "xml" })).toThrow(/LOG_FORMAT/);
  });
});

describe("log lines", () => {
  it("carry the run id inside a run and nothing outside", () => {
    expect(logFields()).toEqual({});
    expect(withRunId("run-7", () => logFields())).toEqual({ run_id: "run-7" });
  });

  it("are JSON when not on a terminal and human-readable (pino-pretty) on one", async () => {
    const { childLogger } = await import("../../src/log.js");
    const lines: string[] = [];
    expect(setLogFormat("auto", false)).toBe("json");
    setLogOutput({ write: (l: string) => lines.push(l) });
    withRunId("run-8", () => childLogger("test").warn("hello"));
    setLogOutput(null);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "hello", part: "test", run_id: "run-8" });
    expect(setLogFormat("auto", true)).toBe("pretty");
    setLogFormat("json");
  });
});
