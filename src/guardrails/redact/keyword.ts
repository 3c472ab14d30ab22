import { classifyKey, keyTypeName } from "./keyword-keys.js";
import { isPlaceholder, isPrintableBase64, isSecretValue, looksRandom, readValue } from "./keyword-values.js";
import { regexMatches, type Span } from "./spans.js";

export { classifyKey, keyWords } from "./keyword-keys.js";
export { isPlaceholder, isPrintableBase64 } from "./keyword-values.js";

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

const KEY_SEP =
  /(?<![A-Za-z0-9_])(?<key>[A-Za-z][A-Za-z0-9_.-]{0,80}?)(?<kq>\\?["'])?[ \t]*(?<sep>:=|=>|=|:)[ \t]*/g;
const AUTH_SCHEME = /^(?:Basic|Bearer|Token|Digest|Negotiate|Bot|ApiKey|SSWS|AWS4-HMAC-SHA256|Key|OAuth)\s+/i;

/**
 * A credential after an HTTP auth scheme without its header name (an access log's
 * `"$http_authorization"`, a quoted header value): `Bearer <token>`, `Basic <base64>`. Words
 * (`Bearer realm=…`, `Basic auth failed`) are not credentials.
 */
const BARE_SCHEME = /\b(?:Bearer|Basic)[ \t]+(?<v>[A-Za-z0-9._~+/-]{8,}={0,3})(?![A-Za-z0-9._~+/=-])/g;

/** Findings of the keyword-assignment detector in `text` (see the module doc). */
export function keywordSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of regexMatches(KEY_SEP, text)) {
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
  for (const m of regexMatches(BARE_SCHEME, text)) {
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
  for (const m of regexMatches(NAME_VALUE, text)) {
    const key = m.groups!.key!;
    const kind = classifyKey(key);
    if (!kind) continue;
    const v = readValue(text, m.index + m[0].length);
    if (!v) continue;
    const value = text.slice(v.start, v.end);
    if (value.length < 3 || !isSecretValue(kind, value)) continue;
    spans.push({ ...v, type: keyTypeName(key) });
  }
  return spans;
}

const XML_ELEMENT = /<(?<key>[A-Za-z][\w.:-]{0,60})>(?<v>[^<>\n]{1,500})<\/\k<key>>/g;

/** `<password>…</password>`, `<ClientSecret>…</ClientSecret>`. */
function xmlSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of regexMatches(XML_ELEMENT, text)) {
    const key = m.groups!.key!.replace(/^.*:/, "");
    const v = m.groups!.v!;
    if (!isSecretValue(classifyKey(key), v)) continue;
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
  for (const m of regexMatches(LONG_FLAG, text)) {
    const v = m.groups!.v!;
    if (!isSecretValue(classifyKey(m.groups!.key!), v)) continue;
    const start = m.index + m[0].length - v.length - m.groups!.q!.length;
    spans.push({ start, end: start + v.length, type: keyTypeName(m.groups!.key!) });
  }
  for (const re of [MYSQL_P, REDIS_A, DOCKER_P, SSHPASS_P, CURL_U]) {
    for (const m of regexMatches(re, text)) {
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
    for (const m of regexMatches(re, text)) {
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

/**
 * Values under a Kubernetes Secret's `data:` / `stringData:` (whole text with `kind: Secret`), and
 * indented `name: <base64>` lines whose value decodes to printable text (a Secret's data seen line by line).
 */
function k8sSecretSpans(text: string): Span[] {
  const spans: Span[] = [];
  // `kubectl get secret -o json`: every string under "data" / "stringData".
  if (/"kind"\s*:\s*"Secret"/.test(text)) {
    for (const block of regexMatches(/"(?:data|stringData)"\s*:\s*\{(?<body>[^{}]*)\}/g, text)) {
      const bodyStart = block.index + block[0].indexOf("{") + 1;
      for (const e of regexMatches(/"[^"\n]*"\s*:\s*"(?<v>[^"\n]*)"/g, block.groups!.body!)) {
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
