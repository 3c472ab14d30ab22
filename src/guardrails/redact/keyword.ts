import type { Span } from "./spans.js";

/**
 * The keyword-assignment detector: a value assigned to a key whose name says it is secret. Covers the
 * shapes that loggers and config files use (the same idea as gitleaks' `generic-api-key` rule and
 * detect-secrets' KeywordDetector, written for our allow-list):
 *
 * - `k=v`, `k: v`, `k := v`, `k => v`, JSON `"k": "v"` (also with escaped quotes inside a JSON string),
 *   YAML `k: v`, env dumps `K=v`, logfmt, query strings `?password=…&token=…`, JDBC `;password=…`;
 * - HTTP headers: `Authorization: Basic|Bearer|Token … <value>`, `X-Api-Key: <value>`, and a
 *   `Bearer <token>` / `Basic <base64>` credential without its header name;
 * - CLI flags: `--password=v`, `--token v`, `mysql -pSECRET`, `redis-cli -a SECRET`;
 * - URL userinfo: `scheme://user:pw@host`, `redis://:pw@host`, `jdbc:oracle:thin:user/pw@host`;
 * - Kubernetes Secret data: every value under `data:`/`stringData:` of a text that shows `kind: Secret`,
 *   and, line by line, an indented `name: <base64>` whose base64 decodes to printable text.
 *
 * A key is secret when its last word (split at `_ - .` and camelCase) is a secret word (`password`,
 * `passwd`, `pwd`, `secret`, `token`, `credentials`, `auth`, `authorization`, `sig`, `signature`,
 * `passphrase`, `apikey`, `dsn`) or is `key` after a qualifier (`api`, `access`, `secret`, `private`,
 * `account`, `app`, `client`, `signing`, …); `*_b64`/`*_value` suffixes are looked through. Only the
 * value is masked: never the key, the separator or the quotes. Placeholders (`${VAR}`, `$(VAR)`,
 * `$VAR`, `{{ … }}`, `<…>`), already-masked values and words like `null`, `required`, `invalid` are
 * not values.
 */

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
  if (
    WEAK.has(last) &&
    !(
      last === "token" &&
      prev &&
      [
        "access",
        "refresh",
        "auth",
        "api",
        "bearer",
        "bot",
        "session",
        "id",
        "secret",
        "private",
        "personal",
      ].includes(prev)
    )
  )
    return "weak";
  return "strong";
}

const STOP_VALUES = new Set(
  "null nil none undefined true false yes no on off required missing invalid empty expired incorrect wrong set unset changed updated rotated ok okay provided present absent enabled disabled redacted hidden masked secret password token is was not for from of the and or too short long mismatch failed failure error success successful accepted rejected denied valid verified unknown default basic bearer digest negotiate oidc oauth oauth2 jwt saml ldap kerberos mtls tls none".split(
    " ",
  ),
);

/** True when `v` is a placeholder, an existing mask or a plain status word, never a secret value. */
export function isPlaceholder(v: string): boolean {
  const s = v.trim();
  if (s === "") return true;
  if (/^\$\{[^}]*\}$|^\$\([^)]*\)$|^\$[A-Za-z_]\w*$|^\{\{.*\}\}$|^<[^>]*>$|^%[sdv]$|^\*+$|^x{3,}$/i.test(s))
    return true;
  if (/^\[REDACTED(?::[A-Za-z0-9_]+)?\]$|^<redacted>$|^REDACTED$/i.test(s)) return true;
  return STOP_VALUES.has(s.toLowerCase());
}

/** A value that looks machine-made: 8+ characters mixing classes, or base64/hex-like. */
function looksRandom(v: string): boolean {
  if (v.length < 8) return false;
  // Values that are plainly not credentials: numbers, times, durations, versions, paths, URLs
  // without credentials, word lists and Kubernetes-style names (`kube-api-access-5x2vq`).
  if (/^[\d.,:]+$|^\d{4}-\d{2}-\d{2}|^\d+(?:\.\d+)?(?:ns|us|ms|s|m|h|d)$|^v?\d+(?:\.\d+)+/.test(v))
    return false;
  if (/^\/[\w./-]*$|^[a-z][a-z0-9+.-]*:\/\/[^@\s]*$/i.test(v)) return false;
  if (/^[a-z]+(?:[_ -][a-z]+)*$/i.test(v) && v.length < 24) return false;
  if (/^[a-z0-9]+(?:[-.][a-z0-9]+)+$/.test(v) && !v.split(/[-.]/).some((p) => p.length >= 16)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(v)).length;
  return classes >= 2 || v.length >= 20;
}

const KEY_SEP =
  /(?<![A-Za-z0-9_])(?<key>[A-Za-z][A-Za-z0-9_.-]{0,80}?)(?<kq>\\?["'])?[ \t]*(?<sep>:=|=>|=|:)[ \t]*/g;
const AUTH_SCHEME = /^(?:Basic|Bearer|Token|Digest|Negotiate|Bot|ApiKey|SSWS|AWS4-HMAC-SHA256|Key|OAuth)\s+/i;

/** Parses the value that starts at `i`: quoted (also `\"…\"`) or up to a delimiter. */
function readValue(text: string, i: number): { start: number; end: number } | null {
  if (text.startsWith("[REDACTED", i)) return null;
  const esc = text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "'");
  const q = esc ? text[i + 1] : text[i];
  if (q === '"' || q === "'" || q === "`") {
    const start = i + (esc ? 2 : 1);
    const close = esc ? `\\${q}` : q;
    let end = text.indexOf(close, start);
    while (!esc && end > 0 && text[end - 1] === "\\") end = text.indexOf(close, end + 1);
    if (end === -1) end = text.search(/$/m) === -1 ? text.length : lineEnd(text, start);
    return { start, end };
  }
  let end = i;
  while (end < text.length && !/[\s,;&"'`}{)(\][<>|]/.test(text[end]!)) end++;
  return end > i ? { start: i, end } : null;
}

function lineEnd(text: string, from: number): number {
  const n = text.indexOf("\n", from);
  return n === -1 ? text.length : n;
}

function keyTypeName(key: string): string {
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

/**
 * A credential after an HTTP auth scheme without its header name (an access log's
 * `"$http_authorization"`, a quoted header value): `Bearer <token>`, `Basic <base64>`. Words
 * (`Bearer realm=…`, `Basic auth failed`) are not credentials.
 */
const BARE_SCHEME = /\b(?:Bearer|Basic)[ \t]+(?<v>[A-Za-z0-9._~+/-]{8,}={0,3})(?![A-Za-z0-9._~+/=-])/g;

/** Findings of the keyword-assignment detector in `text` (see the module doc). */
export function keywordSpans(text: string): Span[] {
  const spans: Span[] = [];
  KEY_SEP.lastIndex = 0;
  for (const m of text.matchAll(KEY_SEP)) {
    const key = m.groups!.key!;
    const sep = m.groups!.sep!;
    const kind = classifyKey(key);
    if (!kind) continue;
    // `https://…` is a URL, not `https: //…`; `a::b` is a path.
    let i = m.index + m[0].length;
    if (sep === ":" && text[i] === "/" && text[i + 1] === "/") continue;
    if (sep === ":" && text[i] === ":") continue;
    // A header's scheme is kept: `Authorization: Bearer <value>`.
    // Go's map[Authorization:[Bearer …]], JSON header lists ["Bearer …"].
    const list = /^\[\\?["']?(?=(?:Basic|Bearer|Token|Digest) )/i.exec(text.slice(i, i + 12));
    if (list) i += list[0].length;
    const scheme = AUTH_SCHEME.exec(text.slice(i, i + 40));
    const hadScheme = scheme !== null;
    if (scheme) i += scheme[0].length;
    const v = readValue(text, i);
    if (!v) continue;
    const value = text.slice(v.start, v.end);
    if (isPlaceholder(value)) continue;
    if (value.length < 3) continue;
    if ((kind === "weak" && !hadScheme) || key.toLowerCase() === "auth") {
      if (!looksRandom(value)) continue;
    }
    spans.push({ ...v, type: hadScheme && /basic/i.test(scheme[0]) ? "BasicAuth" : keyTypeName(key) });
  }
  for (const m of text.matchAll(BARE_SCHEME)) {
    const v = m.groups!.v!;
    if (isPlaceholder(v) || /^[A-Za-z]+$/.test(v)) continue;
    const start = m.index + m[0].length - v.length;
    spans.push({ start, end: start + v.length, type: /^basic/i.test(m[0]) ? "BasicAuth" : "AuthCredential" });
  }
  spans.push(
    ...flagSpans(text),
    ...userinfoSpans(text),
    ...k8sSecretSpans(text),
    ...nameValueSpans(text),
    ...xmlSpans(text),
  );
  return spans;
}

/**
 * Name/value pairs, where the key is data: a Kubernetes container env entry
 * (`{"name":"DB_PASSWORD","value":"…"}`, YAML `- name: DB_PASSWORD` then `value: …`), .NET/NuGet
 * `<add key="Password" value="…"/>`.
 */
const NAME_VALUE =
  /(?<![\w])(?:\\?["']?(?:name|key)\\?["']?)[ \t]*[:=][ \t]*\\?["']?(?<key>[A-Za-z][\w.-]{0,80})\\?["']?[ \t]*(?:,|\n[ \t-]*|[ \t]+)[ \t]*\\?["']?value\\?["']?[ \t]*[:=][ \t]*/g;

function nameValueSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(NAME_VALUE)) {
    const key = m.groups!.key!;
    const kind = classifyKey(key);
    if (!kind) continue;
    const v = readValue(text, m.index + m[0].length);
    if (!v) continue;
    const value = text.slice(v.start, v.end);
    if (isPlaceholder(value) || value.length < 3 || (kind === "weak" && !looksRandom(value))) continue;
    spans.push({ ...v, type: keyTypeName(key) });
  }
  return spans;
}

const XML_ELEMENT = /<(?<key>[A-Za-z][\w.:-]{0,60})>(?<v>[^<>\n]{1,500})<\/\k<key>>/g;

/** `<password>…</password>`, `<ClientSecret>…</ClientSecret>`. */
function xmlSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(XML_ELEMENT)) {
    const key = m.groups!.key!.replace(/^.*:/, "");
    const kind = classifyKey(key);
    const v = m.groups!.v!;
    if (!kind || isPlaceholder(v) || (kind === "weak" && !looksRandom(v))) continue;
    const start = m.index + m.groups!.key!.length + 2;
    spans.push({ start, end: start + v.length, type: keyTypeName(key) });
  }
  return spans;
}

const LONG_FLAG = /(?<![\w-])--(?<key>[A-Za-z][\w-]{1,60})[ \t]+(?<q>["']?)(?<v>[^\s"'-][^\s"']*)\k<q>/g;
const MYSQL_P = /\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?[ \t]-p(?<v>\S+)/g;
const REDIS_A = /\bredis-cli\b[^\n]*?[ \t](?:-a|--pass)[ \t]+(?<v>\S+)/g;
const DOCKER_P =
  /\b(?:docker|podman|helm|oras|skopeo)\b[^\n]*?\blogin\b[^\n]*?[ \t](?:-p|--password)[ \t=]+(?<q>["']?)(?<v>[^\s"']+)/g;
const SSHPASS_P = /\bsshpass\b[^\n]*?[ \t]-p[ \t]*(?<q>["']?)(?<v>[^\s"']+)/g;
/** `curl -u user:password`, `--user 'user:password'` (gitleaks `curl-auth-user`): the password part. */
const CURL_U =
  /\b(?:curl|wget|http)\b[^\n]*?[ \t](?:-u|--user|--proxy-user)[ \t=]*(?<q>["']?)(?<user>[^\s:"']*):(?<v>[^\s"']+)/g;

/** `--password secret` (the `=` form is a key/value pair), `mysql -pSECRET`, `redis-cli -a SECRET`. */
function flagSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(LONG_FLAG)) {
    const kind = classifyKey(m.groups!.key!);
    const v = m.groups!.v!;
    if (!kind || isPlaceholder(v) || (kind === "weak" && !looksRandom(v))) continue;
    const start = m.index + m[0].length - v.length - m.groups!.q!.length;
    spans.push({ start, end: start + v.length, type: keyTypeName(m.groups!.key!) });
  }
  for (const re of [MYSQL_P, REDIS_A, DOCKER_P, SSHPASS_P, CURL_U]) {
    for (const m of text.matchAll(re)) {
      const v = m.groups!.v!;
      if (isPlaceholder(v)) continue;
      const start = m.index + m[0].length - v.length;
      if (re === CURL_U && v.length < 3) continue;
      spans.push({ start, end: start + v.length, type: "Password" });
    }
  }
  return spans;
}

const USERINFO = /\b[a-z][a-z0-9+.-]{1,30}:\/\/(?<user>[^\s:/@"'`]*):(?<pw>[^\s@/"'`]+)@[^\s@]/gi;
const ORACLE_THIN = /\bjdbc:oracle:thin:(?<user>[^\s/@:"']+)\/(?<pw>[^\s@"']+)@/gi;

/** The password in URL userinfo (`scheme://user:pw@host`, `redis://:pw@host`), Oracle thin JDBC. */
function userinfoSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const re of [USERINFO, ORACLE_THIN]) {
    for (const m of text.matchAll(re)) {
      const pw = m.groups!.pw!;
      if (isPlaceholder(pw) || pw.startsWith("[REDACTED")) continue;
      const start =
        m.index + m[0].indexOf(`${re === ORACLE_THIN ? "/" : ":"}${pw}@`, m[0].indexOf(m.groups!.user!)) + 1;
      spans.push({ start, end: start + pw.length, type: "URLPassword" });
    }
  }
  return spans;
}

const YAML_ENTRY = /^(?<indent>[ \t]+)(?<key>["']?[\w.-]+["']?):[ \t]+(?<v>\S.*?)[ \t]*$/;
const B64 = /^[A-Za-z0-9+/]{8,}={0,2}$/;

/** True when `v` is base64 (length a multiple of 4) decoding to printable UTF-8 text. */
export function isPrintableBase64(v: string): boolean {
  if (!B64.test(v) || v.length % 4 !== 0) return false;
  const decoded = Buffer.from(v, "base64").toString("utf8");
  if (decoded.length === 0 || decoded.includes("\uFFFD")) return false;
  return /^[\x20-\x7E\t\r\n]+$/.test(decoded);
}

/**
 * Values under a Kubernetes Secret's `data:` / `stringData:` (whole text with `kind: Secret`), and
 * indented `name: <base64>` lines whose value decodes to printable text (a Secret's data seen line by line).
 */
function k8sSecretSpans(text: string): Span[] {
  const spans: Span[] = [];
  // `kubectl get secret -o json`: every string under "data" / "stringData".
  if (/"kind"\s*:\s*"Secret"/.test(text)) {
    for (const block of text.matchAll(/"(?:data|stringData)"\s*:\s*\{(?<body>[^{}]*)\}/g)) {
      const bodyStart = block.index + block[0].indexOf("{") + 1;
      for (const e of block.groups!.body!.matchAll(/"[^"\n]*"\s*:\s*"(?<v>[^"\n]*)"/g)) {
        const v = e.groups!.v!;
        if (isPlaceholder(v)) continue;
        const start = bodyStart + e.index + e[0].length - v.length - 1;
        spans.push({ start, end: start + v.length, type: "K8sSecretData" });
      }
    }
  }
  const isSecretDoc = /\bkind:[ \t]*["']?Secret\b/.test(text);
  let dataIndent = -1;
  let offset = 0;
  for (const line of text.split("\n")) {
    const indent = /^[ \t]*/.exec(line)![0].length;
    if (isSecretDoc && /^[ \t]*(?:data|stringData):[ \t]*$/.test(line)) dataIndent = indent;
    else if (dataIndent >= 0 && line.trim() !== "" && indent <= dataIndent) dataIndent = -1;
    const m = YAML_ENTRY.exec(line.replace(/\r$/, ""));
    if (m) {
      const v = m.groups!.v!.replace(/^["']|["']$/g, "");
      const inData = dataIndent >= 0 && indent > dataIndent;
      if ((inData && !isPlaceholder(v)) || (isPrintableBase64(v) && !classifyKey(m.groups!.key!))) {
        const at = line.lastIndexOf(v);
        spans.push({ start: offset + at, end: offset + at + v.length, type: "K8sSecretData" });
      }
    }
    offset += line.length + 1;
  }
  return spans;
}
