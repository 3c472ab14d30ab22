import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Signals } from "../../src/contracts/signals.js";
import { isBackstopError } from "../../src/errors.js";
import { luhnValid, redactDeep, redactSignals, redactText } from "../../src/guardrails/redact.js";

const b64url = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
const pem = generateKeyPairSync("rsa", { modulusLength: 1024 })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const pemBody = pem.split("\n")[1]!;

const secrets = {
  awsKeyId: "AKIAZ7XK4Q2M9PLW3N8R",
  awsSecret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz3k9QpL1x",
  jwt: `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: "1234567890", name: "Jane", iat: 1516239022 })}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`,
  slackBot: "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
  slackUser: "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef",
  ghp: "ghp_R8k2Lm9Qw4Ez7Xc1Vb6Nn3Tt5Yy0Uu2Ii8Oo",
  // github_pat_ + 22 chars + "_" + 59 chars (82 after the prefix).
  githubPat: `github_pat_11ABCDEFG0aB3dE5fG7hab_${"Qw3Er5Ty7U".repeat(5)}i9Op1As2D`,
  pgPassword: "Zq8wPe4rTy",
  mysqlPassword: "Mx7Yq2Lp9w",
  mongoPassword: "Mg3Hk8Vb1n",
};

type Case = { name: string; text: string; secret: string; type: string };
const cases: Case[] = [
  {
    name: "AWS access key id",
    text: `using key ${secrets.awsKeyId} for s3`,
    secret: secrets.awsKeyId,
    type: "AWSAccessKeyID",
  },
  {
    name: "AWS secret access key",
    text: `aws_secret_access_key = "${secrets.awsSecret}"`,
    secret: secrets.awsSecret,
    type: "AWSSecretAccessKey",
  },
  { name: "PEM private key", text: `loaded key:\n${pem}done`, secret: pemBody, type: "PrivateKey" },
  {
    name: "GCP service-account key JSON",
    text: `creds=${JSON.stringify({ type: "service_account", private_key_id: "3f2a", private_key: pem })}`,
    secret: pemBody,
    type: "PrivateKey",
  },
  {
    name: "postgres URL with password",
    text: `DATABASE_URL=postgres://orders_app:${secrets.pgPassword}@db.internal:5432/orders?sslmode=require`,
    secret: secrets.pgPassword,
    type: "DatabaseConnectionString",
  },
  {
    name: "mysql URL with password",
    text: `connecting to mysql://billing:${secrets.mysqlPassword}@mysql-0.mysql:3306/billing failed`,
    secret: secrets.mysqlPassword,
    type: "DatabaseConnectionString",
  },
  {
    name: "mongodb+srv URL with password",
    text: `mongo uri mongodb+srv://catalog:${secrets.mongoPassword}@cluster0.abcde.mongodb.net/catalog`,
    secret: secrets.mongoPassword,
    type: "DatabaseConnectionString",
  },
  {
    name: "JWT",
    text: `Authorization: Bearer ${secrets.jwt}`,
    secret: secrets.jwt.split(".")[2]!,
    type: "JWT",
  },
  {
    name: "Slack bot token",
    text: `SLACK_BOT_TOKEN=${secrets.slackBot}`,
    secret: secrets.slackBot,
    type: "SlackToken",
  },
  {
    name: "Slack user token",
    text: `token ${secrets.slackUser} rejected`,
    secret: secrets.slackUser,
    type: "SlackToken",
  },
  {
    name: "GitHub classic token",
    text: `git clone https://${secrets.ghp}@github.com/x/y`,
    secret: secrets.ghp,
    type: "GitHubToken",
  },
  {
    name: "GitHub fine-grained token",
    text: `GH_TOKEN=${secrets.githubPat}`,
    secret: secrets.githubPat,
    type: "GitHubToken",
  },
  {
    name: "basic auth URL",
    text: "pulling https://deployer:Kx93hTq7Wm@registry.corp.io/v2/shop/checkout",
    secret: "Kx93hTq7Wm",
    type: "BasicAuth",
  },
  {
    name: "email",
    text: "user jane.doe@acme-corp.io failed login",
    secret: "jane.doe@acme-corp.io",
    type: "Email",
  },
  { name: "phone", text: "call on-call at (415) 555-0132 now", secret: "555-0132", type: "PhoneNumber" },
  {
    name: "card number (Luhn-valid)",
    text: "charge card 4111 1111 1111 1111 declined",
    secret: "4111 1111 1111 1111",
    type: "CreditCardNumber",
  },
  {
    name: "card number without spaces",
    text: "pan=5500005555555559 ok",
    secret: "5500005555555559",
    type: "CreditCardNumber",
  },
];

describe("redactText: each required type is masked", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await redactText(c.text);
      expect(r.value).toContain(`[REDACTED:${c.type}]`);
      expect(r.value).not.toContain(c.secret);
      expect(r.counts[c.type]).toBe(1);
      expect(r.total).toBe(Object.values(r.counts).reduce((a, b) => a + b, 0));
      expect(JSON.stringify(r.counts)).not.toContain(c.secret);
    });
  }
});

describe("redactText: precision and counts", () => {
  it("leaves clean operational text unchanged", async () => {
    const clean = [
      'level=error msg="upstream connect error" pod=checkout-7d9f8b6c5-x2x9z status=503 latency_ms=842',
      "Back-off restarting failed container checkout in pod checkout-7d9f8b6c5-x2x9z_shop(0b6c1e2a-4f1d-4a8e-9d3c-2f1e0d9c8b7a)",
      "image registry.corp.io/shop/checkout:9f8e7d2 deployed at 2025-03-01T10:00:00Z; readiness probe failed: HTTP 500",
      "panic: assignment to entry in nil map {code=500} retry=3 port=8080",
    ].join("\n");
    const r = await redactText(clean);
    expect(r).toEqual({ value: clean, counts: {}, total: 0 });
  });

  it("does not mask a 16-digit number failing Luhn as a card", async () => {
    const r = await redactText("trace 4111 1111 1111 1112 end");
    expect(r.counts.CreditCardNumber).toBeUndefined();
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
    expect(luhnValid("")).toBe(false);
  });

  it("does not mask a non-JWT dotted eyJ string", async () => {
    const notJwt = `${Buffer.from("{not json").toString("base64url")}.eyJhYmNkZWY.abc`;
    expect((await redactText(`x ${notJwt}`)).counts.JWT).toBeUndefined();
  });

  it("counts several findings of several types in one text", async () => {
    const text = `a@b-corp.io and c@d-corp.io used ${secrets.awsKeyId}; again ${secrets.awsKeyId}; ${secrets.ghp}`;
    const r = await redactText(text);
    expect(r.counts).toEqual({ Email: 2, AWSAccessKeyID: 2, GitHubToken: 1 });
    expect(r.total).toBe(5);
    expect(r.value).toBe(
      "[REDACTED:Email] and [REDACTED:Email] used [REDACTED:AWSAccessKeyID]; again [REDACTED:AWSAccessKeyID]; [REDACTED:GitHubToken]",
    );
  });

  it("cannot be switched off by a secretlint-disable comment in the input", async () => {
    const r = await redactText(
      `# secretlint-disable\nkey=${secrets.awsKeyId}\n# secretlint-disable-line ${secrets.slackBot}`,
    );
    expect(r.value).not.toContain(secrets.awsKeyId);
    expect(r.value).not.toContain(secrets.slackBot);
  });

  it("handles empty text and rejects non-strings", async () => {
    expect(await redactText("")).toEqual({ value: "", counts: {}, total: 0 });
    await expect(redactText(42 as unknown as string)).rejects.toSatisfy((e) =>
      isBackstopError(e, "redact.invalid"),
    );
  });
});

function signals(): Signals {
  return {
    namespace: "shop",
    window: "15m",
    collected_at: "2025-03-01T10:00:00Z",
    workload: {
      kind: "Deployment",
      namespace: "shop",
      name: "checkout",
      replicas: { desired: 3, ready: 1, available: 1, updated: 3 },
      image: "registry.corp.io/shop/checkout:9f8e7d2",
      revision: 4,
      conditions: [
        {
          type: "Available",
          status: "False",
          reason: "MinimumReplicasUnavailable",
          message: `owner jane.doe@acme-corp.io`,
        },
      ],
    },
    pods: [
      {
        name: "checkout-7d9f8b6c5-x2x9z",
        phase: "Running",
        ready: false,
        restarts: 7,
        waiting_reason: "CrashLoopBackOff",
        last_termination_reason: "Error",
        last_exit_code: 1,
        image: "registry.corp.io/shop/checkout:9f8e7d2",
        revision: "4",
      },
    ],
    rollout_history: [
      {
        revision: 4,
        sha: "9f8e7d2",
        image: "registry.corp.io/shop/checkout:9f8e7d2",
        deployed_at: "2025-03-01T09:50:00Z",
        current: true,
        health: "failing",
      },
    ],
    events: [
      {
        type: "Warning",
        reason: "Failed",
        message: `Error: secret env SLACK_BOT_TOKEN=${secrets.slackBot} invalid`,
        object: "Pod/checkout-7d9f8b6c5-x2x9z",
        count: 3,
        last_seen: null,
      },
    ],
    logs: [
      {
        pod: "checkout-7d9f8b6c5-x2x9z",
        container: "checkout",
        previous: true,
        lines: [
          "starting checkout v2",
          `connecting to postgres://orders_app:${secrets.pgPassword}@db.internal:5432/orders`,
          `panic: nil map; debug token ${secrets.jwt}`,
        ],
        truncated: false,
      },
    ],
    metrics: { source: "prometheus", error_ratio: 0.42, p99_latency_ms: 1800, restarts: 7 },
    truncated: [],
  };
}

describe("redactSignals", () => {
  it("masks every string field and keeps everything else", async () => {
    const input = signals();
    const before = JSON.stringify(input);
    const r = await redactSignals(input);
    const out = JSON.stringify(r.value);
    for (const s of [secrets.slackBot, secrets.pgPassword, secrets.jwt, "jane.doe@acme-corp.io"])
      expect(out).not.toContain(s);
    expect(r.counts).toEqual({ Email: 1, SlackToken: 1, DatabaseConnectionString: 1, JWT: 1 });
    expect(r.total).toBe(4);
    expect(r.value.logs[0]!.lines[0]).toBe("starting checkout v2");
    expect(r.value.logs[0]!.lines[2]).toBe("panic: nil map; debug token [REDACTED:JWT]");
    expect(r.value.workload.conditions[0]!.message).toBe("owner [REDACTED:Email]");
    expect(r.value.metrics).toEqual(input.metrics);
    expect(r.value.rollout_history).toEqual(input.rollout_history);
    expect(JSON.stringify(input)).toBe(before); // input not modified
  });

  it("rejects malformed signals without echoing values", async () => {
    const bad = { ...signals(), logs: [{ pod: secrets.ghp, lines: "nope" }] } as unknown as Signals;
    const err = await redactSignals(bad).catch((e: unknown) => e);
    expect(isBackstopError(err, "redact.invalid")).toBe(true);
    expect((err as Error).message).toMatch(/logs\.0/);
    expect((err as Error).message).not.toContain(secrets.ghp);
  });
});

describe("redactDeep", () => {
  it("masks strings at any depth, keeps keys and non-strings, does not mutate", async () => {
    const alert = {
      labels: { alertname: "HighErrorRate", namespace: "shop" },
      annotations: {
        summary: `5xx > 40%; runbook by ops@acme-corp.io`,
        dsn: `mysql://billing:${secrets.mysqlPassword}@mysql-0:3306/b`,
      },
      values: [0.42, null, true, [`nested ${secrets.awsKeyId}`]],
    };
    const copy = structuredClone(alert);
    const r = await redactDeep(alert);
    expect(alert).toEqual(copy);
    expect(r.value.labels).toEqual(alert.labels);
    expect(r.value.annotations.summary).toBe("5xx > 40%; runbook by [REDACTED:Email]");
    expect(r.value.annotations.dsn).not.toContain(secrets.mysqlPassword);
    expect(r.value.values.slice(0, 3)).toEqual([0.42, null, true]);
    expect(r.value.values[3]).toEqual(["nested [REDACTED:AWSAccessKeyID]"]);
    expect(r.counts).toEqual({ Email: 1, DatabaseConnectionString: 1, AWSAccessKeyID: 1 });
  });

  it("keeps strings apart: adjacent strings never merge into one finding", async () => {
    const r = await redactDeep(["xoxb-123456789012", "1234567890123-AbCdEfGhIjKl", "plain"]);
    // No Slack token spans the two strings; the second half alone may still look like a random token.
    expect(r.value[0]).toBe("xoxb-123456789012");
    expect(r.value[2]).toBe("plain");
    expect(r.counts.SlackToken).toBeUndefined();
  });

  it("handles primitives and rejects cycles", async () => {
    expect(await redactDeep(7)).toEqual({ value: 7, counts: {}, total: 0 });
    expect(await redactDeep(null)).toEqual({ value: null, counts: {}, total: 0 });
    const cyc: Record<string, unknown> = { a: "x" };
    cyc.self = cyc;
    await expect(redactDeep(cyc)).rejects.toSatisfy((e) => isBackstopError(e, "redact.invalid"));
  });
});
