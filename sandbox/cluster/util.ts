/** Small helpers shared by the sandbox cluster: hashing and naming the way Kubernetes' controllers do. */

/** FNV-1a, 32 bit, over the UTF-8 bytes of `text` (the hash Kubernetes' `ComputeHash` uses for pod templates). */
export function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // ASCII is its own UTF-8; anything else goes through the encoder (hashes are rare and short).
    if (c >= 0x80) return fnv32aBytes(Buffer.from(text, "utf8"));
    h = Math.imul(h ^ c, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function fnv32aBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** The alphabet of `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString` (no vowels, no confusable digits). */
const ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

/** `SafeEncodeString(fmt.Sprint(hash))`: the `pod-template-hash` form, e.g. `7d9f8b6c5`. */
export function safeEncode(hash: number): string {
  return [...String(hash)].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join("");
}

/** A 5-character generated-name suffix (`checkout-7d9f8b6c5-x2k9q`), deterministic from `seed`. */
export function nameSuffix(seed: string): string {
  let h = fnv32a(seed);
  let out = "";
  for (let i = 0; i < 5; i++) {
    out += ALPHANUMS[h % ALPHANUMS.length];
    h = Math.floor(h / ALPHANUMS.length) ^ fnv32a(`${seed}/${i}`);
    h >>>= 0;
  }
  return out;
}

/** An RFC 4122-shaped UID, deterministic from `seed` (so a reset world replays the same). */
export function uidFor(seed: string): string {
  const hex = [0, 1, 2, 3].map((i) => fnv32a(`${seed}#${i}`).toString(16).padStart(8, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** ISO-8601 with seconds precision, as Kubernetes serialises `metav1.Time` (`2024-05-01T12:00:00Z`). */
export function k8sTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * Parses a Prometheus duration (`30s`, `15m`, `1h30m`, `2d`) to ms.
 * Returns undefined when malformed (https://prometheus.io/docs/prometheus/latest/querying/basics/#time-durations).
 */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = {
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
    y: 31_536_000_000,
  };
  if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * units[m[2]!]!;
  return total;
}
