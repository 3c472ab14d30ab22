import canonicalizeModule from "canonicalize";

type Canonicalize = (input: unknown) => string | undefined;
// `canonicalize` is CommonJS (`module.exports = fn`) with an ESM-style `export default` in its typings:
// under Node's ESM loader the default import is the function itself; accept either shape.
const impl: Canonicalize =
  typeof canonicalizeModule === "function"
    ? (canonicalizeModule as Canonicalize)
    : (canonicalizeModule as unknown as { default: Canonicalize }).default;

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value, via the `canonicalize` package: object
 * keys sorted by UTF-16 code units, no whitespace, ECMAScript number formatting, `toJSON` honoured,
 * `undefined` members dropped. The one form Backstop hashes or compares JSON in (receipts, pod-template
 * hashes and equality). Returns `undefined` for a value with no JSON form (`undefined`, a function).
 * @throws Error for NaN, Infinity (RFC 8785 §3.2.2.3), a BigInt or a cycle.
 */
export function canonicalize(value: unknown): string | undefined {
  return impl(value);
}

/**
 * True when `a` and `b` are the same JSON value (equal {@link canonicalize} text; key order and
 * `undefined` members do not matter; two values without a JSON form are equal).
 * @throws Error as {@link canonicalize}.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalize(a) === canonicalize(b);
}
