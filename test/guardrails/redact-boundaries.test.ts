import { describe, expect, it } from "vitest";
import { redactDeep, redactLines, redactText } from "../../src/guardrails/redact.js";

/** Fake values, in real formats, written for these tests. */
const AWS_SECRET = "Vq7rT2xLm9Kp4Wz8Ns3Bd6Fh1Jc5Yg0Ue2Ra8Pi";
const PW = "Pl4n3t-Xr9!qZ";

const cases: [string, string, string][] = [
  [
    "AWS secret key with its label",
    `aws_secret_access_key = "${AWS_SECRET}"`,
    'aws_secret_access_key = "[REDACTED:AWSSecretAccessKey]"',
  ],
  [
    "AWS secret key in an env dump",
    `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`,
    "AWS_SECRET_ACCESS_KEY=[REDACTED:AWSSecretAccessKey]",
  ],
  [
    "JSON password",
    `{"user":"app","password":"${PW}","port":5432}`,
    '{"user":"app","password":"[REDACTED:Password]","port":5432}',
  ],
  [
    "escaped JSON inside a log message",
    `{"msg":"cfg {\\"password\\": \\"${PW}\\"}"}`,
    '{"msg":"cfg {\\"password\\": \\"[REDACTED:Password]\\"}"}',
  ],
  ["YAML password", `  password: ${PW}`, "  password: [REDACTED:Password]"],
  [
    "redis URL without user",
    `redis://:${PW}@redis-master:6379/0`,
    "redis://:[REDACTED:URLPassword]@redis-master:6379/0",
  ],
  [
    "amqp URL",
    `amqp://orders:Qm8vLx2pWn7R@rabbitmq:5672/prod`,
    "amqp://orders:[REDACTED:URLPassword]@rabbitmq:5672/prod",
  ],
  [
    "postgres URL keeps host and database",
    "postgres://app:Zq8wPe4rTy@db.internal:5432/orders",
    "postgres://app:[REDACTED:DatabaseConnectionString]@db.internal:5432/orders",
  ],
  [
    "Basic auth header",
    "> Authorization: Basic YXBwOlBsNG4zdC1YcjkhcVo=",
    "> Authorization: Basic [REDACTED:BasicAuth]",
  ],
  [
    "Bearer header",
    "Authorization: Bearer Xk29dLq0Pz7Wm3Nv8Rt5Yb1Hc6Jf4Gs",
    "Authorization: Bearer [REDACTED:AuthCredential]",
  ],
  [
    "query string",
    "GET /login?user=app&password=Qm8vLx2pWn7R&next=/ HTTP/1.1",
    "GET /login?user=app&password=[REDACTED:Password]&next=/ HTTP/1.1",
  ],
  [
    "CLI flag",
    `/app/server --password ${PW} --port 8080`,
    "/app/server --password [REDACTED:Password] --port 8080",
  ],
  [
    "JDBC password",
    "jdbc:sqlserver://db:1433;databaseName=x;user=sa;password=Qm8vLx2pWn7R;encrypt=true",
    "jdbc:sqlserver://db:1433;databaseName=x;user=sa;password=[REDACTED:Password];encrypt=true",
  ],
  [
    "URL-encoded e-mail",
    "GET /u?email=jane.doe%40example.org&page=2",
    "GET /u?email=[REDACTED:Email]&page=2",
  ],
];

describe("masks cover the value only", () => {
  for (const [name, input, expected] of cases) {
    it(name, async () => {
      const r = await redactText(input);
      expect(r.value).toBe(expected);
      expect((await redactText(r.value)).value).toBe(r.value); // idempotent
    });
  }
});

describe("more shapes: shells, containers, XML, .NET, Ruby, curl, docker, helm", () => {
  const shapes: [string, string][] = [
    [
      "docker run -e POSTGRES_PASSWORD=s3cr3tPw0rd postgres:16",
      "docker run -e POSTGRES_PASSWORD=[REDACTED:Password] postgres:16",
    ],
    [
      '"GET / HTTP/1.1" 200 12 "-" "curl/8" "Bearer 4bf92f3577b34da6a3ce929d0e0e47364bf92f35"',
      '"GET / HTTP/1.1" 200 12 "-" "curl/8" "Bearer [REDACTED:AuthCredential]"',
    ],
    ['{"Authorization": ["Bearer Xk29dLq0"]}', '{"Authorization": ["Bearer [REDACTED:AuthCredential]"]}'],
    [
      '{"env":[{"name":"DB_PASSWORD","value":"hunter2hunter2"},{"name":"LOG_LEVEL","value":"debug"}]}',
      '{"env":[{"name":"DB_PASSWORD","value":"[REDACTED:Password]"},{"name":"LOG_LEVEL","value":"debug"}]}',
    ],
    [
      "        - name: STRIPE_API_KEY\n          value: not-so-secret-value-123",
      "        - name: STRIPE_API_KEY\n          value: [REDACTED:APIKey]",
    ],
    [
      "<password>Tr0ub4dor&3</password> <user>app</user>",
      "<password>[REDACTED:Password]</password> <user>app</user>",
    ],
    [
      '<add key="ClientSecret" value="Zq8wPe4rTyXc9"/>',
      '<add key="ClientSecret" value="[REDACTED:Secret]"/>',
    ],
    [
      "+ curl -u deployer:Kx93hTq7Wm https://nexus.corp.io/repo",
      "+ curl -u deployer:[REDACTED:Password] https://nexus.corp.io/repo",
    ],
    [
      "+ docker login -u ci -p Qm8vLx2pWn7R registry.corp.io",
      "+ docker login -u ci -p [REDACTED:Password] registry.corp.io",
    ],
    [
      "Server=db;User Id=sa;Password=Pl4n3tXr9qZ;Encrypt=true",
      "Server=db;User Id=sa;Password=[REDACTED:Password];Encrypt=true",
    ],
    [':password => "Pl4n3tXr9qZ"', ':password => "[REDACTED:Password]"'],
    [
      "helm upgrade app ./chart --set auth.password=Pl4n3tXr9qZ --set replicas=3",
      "helm upgrade app ./chart --set auth.password=[REDACTED:Password] --set replicas=3",
    ],
    [
      '{"kind":"Secret","data":{"tls.key":"LS0tLS1CRUdJTg==","username":"YWRtaW4="}}',
      '{"kind":"Secret","data":{"tls.key":"[REDACTED:K8sSecretData]","username":"[REDACTED:K8sSecretData]"}}',
    ],
    [
      '{"first_name": "Jane", "last_name": "Doe", "email": "jd@example.org"}',
      '{"first_name": "[REDACTED:PersonName]", "last_name": "[REDACTED:PersonName]", "email": "[REDACTED:Email]"}',
    ],
  ];
  for (const [input, expected] of shapes) {
    it(input.slice(0, 60), async () => {
      expect((await redactLines(input)).value).toBe(expected);
    });
  }
});

describe("look-alikes are kept", () => {
  const clean = [
    "deploy checkout at commit 4821937 (short sha) revision=12 ok",
    "image registry.corp.io/shop/checkout:4821937 pulled; tag 20250301.4",
    'resourceVersion: "48213377" port 8443 took 1200ms at 2025-03-01T10:00:00.123Z ts=1740823200 ts_ms=1740823200123',
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "pulled ghcr.io/acme/checkout@sha256:3f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e",
    "Back-off restarting failed container checkout in pod checkout-7d9f8b6c5-x2x9z_shop(0b6c1e2a-4f1d-4a8e-9d3c-2f1e0d9c8b7a)",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell placeholder, on purpose
    "password=${DB_PASSWORD} token=$(cat /run/secrets/token) api_key=*** secret=<redacted> auth=[REDACTED:Token]",
    "order 4155550132 shipped; tracking 1234567890",
    "max_tokens=4096 secretName: checkout-tls password_file=/run/secrets/db",
    'MountVolume.SetUp failed for volume "secret-vol" : secret "checkout-db-creds" not found',
    "token-volume: kube-api-access-5x2vq",
    "password_changed_at=2025-03-01T10:00:00Z auth_type=oauth2 token_endpoint=https://auth.corp.io/token",
    "secretKeyRef: {name: db-secret, key: password}",
    "--token-ttl=24h --secret-name=checkout-tls",
    "git clone git@github.com:acme/checkout.git",
    '"integrity": "sha512-Q2Vb9Xk1uT7pLm3Zr8Wn4Ys6Hd0Jc5Fg2Ke8Ra1Pi9Oq3Lw7Ez6Mx4Nb2Vc8Tt5Yy0Uu2Ii8Oo1Aa3Ss5Dd7Ff9Gg==",',
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vb9Xk1uT7pLm3Zr8Wn4Ys6Hd0wCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----",
    "deployment.apps/checkout-7d9f8b6c5 rolled out",
    'WWW-Authenticate: Bearer realm="kubernetes", error="invalid_token"',
    "Basic auth failed for user app; Bearer authentication required",
    "charge ch_3MmlLrLkdIwHu7ix0snN0B15 for cus_NffrFeUfNV2Hib ok",
    "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:693)",
    "registered bean ConnectionFactoryImpl2024Handler and OrderServiceV2ControllerTests",
  ];
  for (const line of clean) {
    it(line.slice(0, 60), async () => {
      expect((await redactText(line)).value).toBe(line);
    });
  }
});

describe("PII", () => {
  it("masks phone numbers with a layout or an international prefix, and person names next to PII", async () => {
    expect((await redactText("call (415) 555-0132 or +44 20 7946 0958")).value).toBe(
      "call [REDACTED:PhoneNumber] or [REDACTED:PhoneNumber]",
    );
    const r = await redactText('{"customer": "Jane Doe", "email": "jane.doe@example.org"}');
    expect(r.value).toBe('{"customer": "[REDACTED:PersonName]", "email": "[REDACTED:Email]"}');
    // Without other PII a name field is kept (it may be a service or a team).
    expect((await redactText('{"name": "Payments Team"}')).value).toBe('{"name": "Payments Team"}');
  });

  it("masks names in a record (redactDeep) whose other fields carry PII, and names in other scripts", async () => {
    const r = await redactDeep({
      order: { customer: "José Álvarez", email: "jose@example.org", note: "leave at door" },
      team: { name: "Payments Team", channel: "#payments" },
    });
    expect(r.value.order).toEqual({
      customer: "[REDACTED:PersonName]",
      email: "[REDACTED:Email]",
      note: "leave at door",
    });
    expect(r.value.team).toEqual({ name: "Payments Team", channel: "#payments" });
    expect(r.counts).toEqual({ Email: 1, PersonName: 1 });
    expect((await redactText('holder="Jan van der Berg" iban=DE89370400440532013000')).value).toBe(
      'holder="[REDACTED:PersonName]" iban=[REDACTED:IBAN]',
    );
  });

  it("masks IBANs and SSNs only when their checksums/ranges hold", async () => {
    expect((await redactText("iban DE89 3704 0044 0532 0130 00 ok")).value).toBe("iban [REDACTED:IBAN] ok");
    expect((await redactText("iban DE88 3704 0044 0532 0130 00 ok")).value).toBe(
      "iban DE88 3704 0044 0532 0130 00 ok",
    );
    expect((await redactText("ssn 123-45-6789")).value).toBe("ssn [REDACTED:USSocialSecurityNumber]");
    expect((await redactText("ssn 666-45-6789")).value).toBe("ssn 666-45-6789");
    expect((await redactText('{"ssn": "123456789"}')).value).toBe(
      '{"ssn": "[REDACTED:USSocialSecurityNumber]"}',
    );
  });
});

describe("redactLines", () => {
  it("keeps the number of lines and masks a PEM block line by line", async () => {
    const body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    const text = `start\n-----BEGIN PRIVATE KEY-----\n${body}\n${body.split("").reverse().join("")}\n-----END PRIVATE KEY-----\r\nend\n`;
    const r = await redactLines(text);
    expect(r.value.split("\n").length).toBe(text.split("\n").length);
    expect(r.value).not.toContain(body.slice(10, 22));
    expect(r.value.startsWith("start\n")).toBe(true);
    expect(r.value.endsWith("\r\nend\n")).toBe(true);
    expect(r.counts.PrivateKey).toBe(1);
  });

  it("masks every value under a Kubernetes Secret's data:", async () => {
    const yaml =
      "apiVersion: v1\ndata:\n  tls.crt: bm90LWEtcmVhbC1jZXJ0\n  DB_PASS: UXc4dkx4MnBXbjdS\nkind: Secret\nmetadata:\n  name: db\n";
    const r = await redactLines(yaml);
    expect(r.value).toBe(
      "apiVersion: v1\ndata:\n  tls.crt: [REDACTED:K8sSecretData]\n  DB_PASS: [REDACTED:Password]\nkind: Secret\nmetadata:\n  name: db\n",
    );
  });

  it("rejects a non-string", async () => {
    await expect(redactLines(3 as unknown as string)).rejects.toThrow(/expects a string/);
  });
});
