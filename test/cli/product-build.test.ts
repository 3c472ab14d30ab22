import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import { resolveInPackage } from "../../src/paths.js";
import { loadSigningKey } from "../../src/receipt/index.js";
import { startCli, stopClis } from "./spawn-cli.js";

// The production image, rebuilt the way deploy/Dockerfile builds it: the repository minus what
// .dockerignore leaves out of the build context (sandbox/ among it), `npm run build:product`
// (tsc -p tsconfig.product.json), then `node bin/backstop.js serve|worker`. No sandbox folder exists
// in that tree, so serve and worker starting there proves the product does not load the sandbox.
const run = promisify(execFile);
const root = resolveInPackage();
const image = mkdtempSync(join(tmpdir(), "backstop-product-"));
const TOKEN = "xoxb-test-product-build";
let slack: SandboxSlack;

/** `.dockerignore` patterns as Docker reads the simple ones: a path from the root, or `*.ext`. */
function ignoredBy(patterns: string[]): (rel: string) => boolean {
  return (rel) =>
    patterns.some((p) =>
      p.startsWith("*.") ? extname(rel) === p.slice(1) : rel === p || rel.startsWith(`${p}/`),
    );
}

function backstop(args: string[], env: Record<string, string>) {
  return run(process.execPath, [join(image, "bin", "backstop.js"), ...args], {
    cwd: image,
    env: { PATH: process.env.PATH ?? "", HOME: image, LOG_LEVEL: "warn", ...env },
  });
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (err: { code: number; stderr: string }) => err,
  );

let env: Record<string, string>;

beforeAll(async () => {
  const patterns = readFileSync(join(root, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  expect(patterns).toContain("sandbox");
  const ignored = ignoredBy(patterns);
  for (const entry of readdirSync(root)) {
    if (ignored(entry)) continue;
    cpSync(join(root, entry), join(image, entry), {
      recursive: true,
      filter: (src) => !ignored(relative(root, src)),
    });
  }
  // The image's `npm ci`: the dependencies, here the worktree's own.
  symlinkSync(join(root, "node_modules"), join(image, "node_modules"), "dir");
  const pkg = JSON.parse(readFileSync(join(image, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  expect(pkg.scripts["build:product"]).toBe("tsc -p tsconfig.product.json");
  await run(
    process.execPath,
    [join(image, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.product.json"],
    {
      cwd: image,
    },
  );

  slack = await startSandboxSlack({ botToken: TOKEN });
  const key = join(image, "receipt-key.pem");
  loadSigningKey({ path: key, create: true });
  const kubeconfig = join(image, "writer.kubeconfig");
  writeFileSync(
    kubeconfig,
    "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
  );
  env = {
    // A database of its own (BullMQ's default key prefix; test/cli/serve-worker.test.ts uses 13).
    REDIS_URL: "redis://127.0.0.1:6379/12",
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: "test-signing-secret-product",
    SLACK_BOT_USER_ID: "U0BACKSTOP",
    SLACK_BOT_ID: "B0BACKSTOP",
    SLACK_ALERT_CHANNEL: "C0ALERTS",
    SLACK_API_URL: slack.apiUrl,
    SLACK_MODE: "http",
    BACKSTOP_ALERT_TOKEN: "alert-token-product-0123456789",
    BACKSTOP_APPROVERS: "U0APPROVER",
    BACKSTOP_INFRA_MCP_URL: "http://127.0.0.1:1/mcp",
    BACKSTOP_TARGETS: '[{"name":"p","base_url":"http://127.0.0.1:1/v1","model":"m","tier":1}]',
    BACKSTOP_WRITER_KUBECONFIG: kubeconfig,
    BACKSTOP_RECEIPT_KEY_FILE: key,
    BACKSTOP_RECEIPTS_DIR: join(image, "receipts"),
    HOST: "127.0.0.1",
    PORT: "0",
    BACKSTOP_METRICS_PORT: "0",
  };
}, 240_000);

afterAll(async () => {
  await stopClis();
  await slack?.close();
  rmSync(image, { recursive: true, force: true });
});

describe("the production build, without sandbox/", () => {
  it("has no sandbox code: no sandbox/ sources, no dist/sandbox, no console build", () => {
    expect(existsSync(join(image, "src", "cli", "main.ts"))).toBe(true);
    expect(existsSync(join(image, "dist", "src", "cli", "main.js"))).toBe(true);
    expect(existsSync(join(image, "sandbox"))).toBe(false);
    expect(existsSync(join(image, "dist", "sandbox"))).toBe(false);
    expect(existsSync(join(image, "dist", "console"))).toBe(false);
  });

  it("backstop serve and backstop worker start and answer /healthz", async () => {
    const [bot, worker] = await Promise.all([
      startCli([join(image, "bin", "backstop.js"), "serve"], {
        cwd: image,
        env,
        ready: /listening on (http:\/\/\S+?:\d+)/,
      }),
      startCli([join(image, "bin", "backstop.js"), "worker"], {
        cwd: image,
        env,
        ready: /; (http:\/\/\S+?)\/metrics/,
      }),
    ]);
    for (const url of [bot, worker]) {
      const r = await fetch(`${url}/healthz`);
      expect(r.status, url).toBe(200);
    }
  }, 120_000);

  it("the sandbox commands say they are not part of this build", async () => {
    for (const cmd of [
      ["demo"],
      ["eval"],
      ["run", "--scenario", "x.yaml"],
      ["sandbox", "--scenario", "x.yaml"],
    ]) {
      const err = await failure(backstop(cmd, env));
      expect(err?.code, cmd[0]).toBe(1);
      expect(err?.stderr, cmd[0]).toMatch(
        /the sandbox commands are not part of this build.*\(cli\.unavailable\)/,
      );
    }
  }, 120_000);

  it("a worker without a configured receipt key refuses to start, naming BACKSTOP_RECEIPT_KEY_FILE", async () => {
    const { BACKSTOP_RECEIPT_KEY_FILE: _, ...noKey } = env;
    const err = await failure(backstop(["worker"], noKey));
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/the worker needs: BACKSTOP_RECEIPT_KEY_FILE/);
    // Nothing was generated in its place.
    expect(existsSync(join(image, ".config"))).toBe(false);

    const missing = await failure(
      backstop(["worker"], { ...env, BACKSTOP_RECEIPT_KEY_FILE: join(image, "nope.pem") }),
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toMatch(/no receipt key at .*nope\.pem \(receipt\.key\)/);
    expect(existsSync(join(image, "nope.pem"))).toBe(false);
  }, 120_000);
});
