/** Key names for the keyword-assignment detector (`keyword.ts`): which keys name a secret, and the finding type of each. */

const SECRET_LAST = new Set([
  "password",
  "passwd",
  "pwd",
  "pass",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "credentials",
  "credential",
  "creds",
  "auth",
  "authorization",
  "sig",
  "signature",
  "privatekey",
  "dsn",
]);
/** Words before `key` that make it a secret key (`api_key`, `SECRET_KEY`, `AccountKey`, `DD_APP_KEY`). */
const KEY_QUALIFIERS = new Set([
  "api",
  "access",
  "secret",
  "private",
  "signing",
  "encryption",
  "master",
  "account",
  "app",
  "application",
  "client",
  "license",
  "session",
  "storage",
  "shared",
  "webhook",
  "service",
  "admin",
  "auth",
  "ssh",
  "hmac",
  "jwt",
  "subscription",
  "primary",
  "secondary",
  "deploy",
  "crypt",
]);
const LOOK_THROUGH = new Set([
  "b64",
  "base64",
  "value",
  "enc",
  "encrypted",
  "raw",
  "hash",
  "str",
  "string",
  "plain",
]);
const GLUED = ["password", "passwd", "passphrase", "secret", "apikey", "token", "credentials"];
/** Secret words that make a key secret wherever they stand (`SECRET_KEY_BASE`). */
const SECRET_INSIDE = new Set([
  "password",
  "passwd",
  "secret",
  "apikey",
  "token",
  "credentials",
  "passphrase",
  "privatekey",
]);
/** Last words that make a key about a secret, not a secret: `secretName`, `token_ttl`, `password_file`. */
const NOT_SECRET_LAST = new Set(
  "name names ref refs id ids file files path dir url uri arn type kind length len ttl expiry expires expiration age count version policy mode enabled required rotation rotated provider store manager source format hint field header prefix env label labels selector namespace hash endpoint issuer audience scope scopes at time timestamp date duration timeout interval size limit used remaining algorithm alg method status state error reason message msg result valid invalid owner user username email host port server region project role volume mount backend engine bucket".split(
    " ",
  ),
);
/** Token keys that are not credentials (paging, model usage). */
const NOT_SECRET_BEFORE_TOKEN = new Set([
  "page",
  "next",
  "continue",
  "max",
  "min",
  "num",
  "total",
  "input",
  "output",
  "prompt",
  "completion",
  "cancellation",
  "id",
  "count",
]);
/** Keys whose values are often words, so the value must look random to be masked. */
const WEAK = new Set([
  "auth",
  "authorization",
  "token",
  "sig",
  "signature",
  "credentials",
  "credential",
  "creds",
  "dsn",
]);

/** Token keys that are credentials even though `token` alone is weak (`access_token`, `botToken`). */
const STRONG_BEFORE_TOKEN = new Set(
  "access refresh auth api bearer bot session id secret private personal".split(" "),
);

/** Splits a key into lower-case words: `AWS_SECRET_ACCESS_KEY` → aws secret access key, `apiKey` → api key. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[\s_.-]+/)
    .filter(Boolean);
}

/** `"strong"`, `"weak"` (value must look random) or null for a key that does not name a secret. */
export function classifyKey(key: string): "strong" | "weak" | null {
  const words = keyWords(key);
  while (words.length > 1 && LOOK_THROUGH.has(words[words.length - 1]!)) words.pop();
  let last = words[words.length - 1];
  const prev = words[words.length - 2];
  if (!last) return null;
  // One-word keys that end in a secret word: `PGPASSWORD`, `dbpassword`, `clientsecret`.
  for (const w of GLUED) if (last !== w && last.endsWith(w)) last = w;
  if (last === "key") return prev && KEY_QUALIFIERS.has(prev) ? "strong" : null;
  if (last === "token" && prev && NOT_SECRET_BEFORE_TOKEN.has(prev)) return null;
  if (!SECRET_LAST.has(last)) {
    // `SECRET_KEY_BASE`, `password_b`: a secret word inside the key, a neutral word last.
    if (NOT_SECRET_LAST.has(last) || !words.some((w) => SECRET_INSIDE.has(w))) return null;
    return "weak";
  }
  if (WEAK.has(last) && !(last === "token" && prev && STRONG_BEFORE_TOKEN.has(prev))) return "weak";
  return "strong";
}

/** The finding type of a value under secret key `key` (`Password`, `APIKey`, `AWSSecretAccessKey`, …). */
export function keyTypeName(key: string): string {
  const w = keyWords(key);
  if (w.includes("aws") && w.includes("secret")) return "AWSSecretAccessKey";
  if (w.some((x) => x.startsWith("pass") || x === "pwd")) return "Password";
  if (w.includes("authorization") || w.includes("auth")) return "AuthCredential";
  if (w.includes("secret") || w.includes("private")) return "Secret";
  if (w.includes("sig") || w.includes("signature")) return "Signature";
  if (w.includes("key") || w.includes("apikey")) return "APIKey";
  if (w.includes("credentials") || w.includes("credential") || w.includes("creds")) return "Credentials";
  if (w.includes("dsn")) return "Secret";
  return "Token";
}
