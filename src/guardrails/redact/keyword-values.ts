/** Values for the keyword-assignment detector (`keyword.ts`): placeholders, randomness, where a value starts and ends. */

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
export function looksRandom(v: string): boolean {
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

/** Parses the value that starts at `i`: quoted (also `\"…\"`) or up to a delimiter. */
export function readValue(text: string, i: number): { start: number; end: number } | null {
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

const B64 = /^[A-Za-z0-9+/]{8,}={0,2}$/;

/** True when `v` is base64 (length a multiple of 4) decoding to printable UTF-8 text. */
export function isPrintableBase64(v: string): boolean {
  if (!B64.test(v) || v.length % 4 !== 0) return false;
  const decoded = Buffer.from(v, "base64").toString("utf8");
  if (decoded.length === 0 || decoded.includes("\uFFFD")) return false;
  return /^[\x20-\x7E\t\r\n]+$/.test(decoded);
}

/**
 * True when `value` under a key of class `kind` ({@link classifyKey}) is to be masked: the key names
 * a secret, the value is no placeholder, and under a weak key it looks random.
 */
export function isSecretValue(kind: "strong" | "weak" | null, value: string): boolean {
  return kind !== null && !isPlaceholder(value) && (kind === "strong" || looksRandom(value));
}
