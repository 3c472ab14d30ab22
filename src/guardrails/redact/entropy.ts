import { regexMatches, type Span, shannonEntropy } from "./spans.js";

/**
 * The high-entropy token detector: a run of 24+ base64/base64url characters that mixes upper case,
 * lower case and digits and carries at least min(4.0, 0.8·log2(length)) bits of Shannon entropy per character (random base62
 * text of that length has about 4.3–5; identifiers, words and paths stay below 4). The same idea as
 * detect-secrets' Base64HighEntropyString, with our allow-list:
 *
 * - hex-only runs of any length (git SHAs 7–40, trace ids 32, span ids 16, container ids and sha256
 *   digests 64) and UUIDs are never entropy findings (a hex credential is found by its key or prefix);
 * - image digests (`sha256:…`, `@sha256:…`), SRI integrity values (`sha512-…`), SSH public keys
 *   (`ssh-ed25519 AAAA…`), the body of a PEM certificate or public key (public, not secret),
 *   `${VAR}` / `$(VAR)` placeholders and existing masks; Stripe object ids (`ch_…`, `cus_…`);
 * - Kubernetes names (DNS-1123, such as pod names with their hash suffixes `checkout-7d9f8b6c5-x2x9z`),
 *   object references and paths made of names and words (`Pod/checkout-…`, `/api/v1/orders`), dotted
 *   names whose parts are short (hosts, packages, versions) and qualified code names
 *   (`org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl`), and identifiers made of
 *   words (`ConnectionFactoryImpl2024Handler`, see {@link isIdentifier}).
 */

const CANDIDATE = /(?<![A-Za-z0-9+/_.-])[A-Za-z0-9+/_.-]{24,}={0,3}(?![A-Za-z0-9+/=_.-])/g;

const STRIPE_OBJECT_ID =
  /^(?:ch|cus|pi|pm|evt|req|sub|si|in|ii|il|prod|price|txn|acct|seti|src|ba|card|py|po|re|tr|cs|cbtxn|dp|du|file|iv|plink|quote|sched|sku|or|ipi)_[A-Za-z0-9]{10,}$/;

/** True when a candidate is an identifier from the allow-list rather than a secret. */
export function allowListed(token: string, before: string): boolean {
  if (/^[0-9a-f]+$/i.test(token)) return true;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(token)) return true;
  if (
    /(?:sha256|sha384|sha512|sha1|md5)[:-]$/i.test(before) ||
    /^(?:sha256|sha384|sha512|sha1|md5)-/i.test(token)
  )
    return true; // digests, SRI integrity
  if (/(?:ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-dss) $/.test(before)) return true; // public keys
  if (/[$][{(]$/.test(before)) return true;
  // Stripe object ids (`ch_…`, `cus_…`, `pi_…`, `evt_…`, `req_…`; stripe.com/docs/api): references, not keys.
  if (STRIPE_OBJECT_ID.test(token)) return true;
  // Kubernetes object names (DNS-1123: lower case, digits, `-`, `.`), e.g. pod names with hash suffixes.
  if (/^[a-z0-9][a-z0-9.-]*$/.test(token)) return true;
  // Paths and object references (`/api/v1/orders`, `Pod/checkout-7d9f8b6c5-x2x9z`, `deployment.apps/x`):
  // an absolute path or a kind-like word, then names and words only.
  if (token.includes("/")) {
    const parts = token.split("/");
    const nameOrWord = (p: string) =>
      p === "" || /^[a-z0-9][a-z0-9._-]*$/.test(p) || /^[A-Za-z][a-z]*$/.test(p);
    if ((token.startsWith("/") || /^[A-Za-z][a-z]*(?:\.[a-z]+)*$/.test(parts[0]!)) && parts.every(nameOrWord))
      return true;
  }
  // Dotted names (hosts, Java packages, versions) whose parts are all short words.
  const parts = token.split(".");
  if (parts.length > 1 && parts.every((p) => p.length < 16)) return true;
  // Qualified code names: `org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl` (a lower-case
  // package first, then camelCase identifiers, never two capitals in a row as random text has).
  if (
    parts.length > 2 &&
    /^[a-z]+$/.test(parts[0]!) &&
    parts.every((p) => /^[A-Za-z_$][a-z0-9_$]*(?:[A-Z][a-z0-9_$]*)*$/.test(p))
  )
    return true;
  // A path or a word-ish identifier: letters only, or few digits.
  if (/^[A-Za-z]+$/.test(token)) return true;
  return false;
}

const PUBLIC_PEM =
  /-----BEGIN (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|X509 CRL|CERTIFICATE REQUEST)-----[\s\S]*?-----END [A-Z0-9 ]+-----/g;

/**
 * A code identifier made of words (`ConnectionFactoryImpl2024Handler`, `kubeApiAccess5x2vq`): split at
 * case changes, digits and `_`/`-`, at most one chunk shorter than 3 letters and every letter chunk
 * with a vowel. Random text breaks into many short, vowel-less chunks.
 */
export function isIdentifier(token: string): boolean {
  const chunks = token.split(
    /(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])|(?<=[A-Z])(?=[A-Z][a-z])|[_\-./+=]+/,
  );
  const letters = chunks.filter((c) => /^[A-Za-z]+$/.test(c));
  if (letters.length === 0) return false;
  const short = letters.filter((c) => c.length < 3).length;
  return short <= 1 && letters.every((c) => c.length < 3 || /[aeiouyAEIOUY]/.test(c));
}

/** Findings of the high-entropy detector in `text`. */
export function entropySpans(text: string): Span[] {
  const spans: Span[] = [];
  const publicBlocks = text.includes("-----BEGIN")
    ? regexMatches(PUBLIC_PEM, text).map((m) => [m.index, m.index + m[0].length])
    : [];
  for (const m of regexMatches(CANDIDATE, text)) {
    // Slashes around a token belong to a path or URL (`https://<token>@…`), not to the token.
    const lead = /^\/*/.exec(m[0])![0].length;
    const token = m[0].slice(lead).replace(/\/+$/, "");
    if (token.length < 24 || token.includes("//")) continue;
    const at = m.index + lead;
    const before = text.slice(Math.max(0, at - 24), at);
    if (allowListed(token, before)) continue;
    if (publicBlocks.some(([a, b]) => at >= a! && at < b!)) continue;
    const body = token.replace(/=+$/, "");
    if (!/[a-z]/.test(body) || !/[A-Z]/.test(body) || !/\d/.test(body)) continue;
    if (shannonEntropy(body) < Math.min(4.0, 0.8 * Math.log2(body.length))) continue;
    if (isIdentifier(body)) continue;
    spans.push({ start: at, end: at + token.length, type: "HighEntropyToken" });
  }
  return spans;
}
