/** The bounds every collector applies, and the one way they cut text. */

/**
 * Bounds of `get_signals` output. Stated in the tool description; every cut is named in `truncated`.
 * Counts are items, `*_CHARS` are UTF-16 characters, `MAX_LOG_BYTES` is UTF-8 bytes over all log lines.
 */
export const LIMITS = {
  pods: 20,
  revisions: 10,
  events: 30,
  eventMessageChars: 500,
  conditionMessageChars: 300,
  logPods: 3,
  logLines: 50,
  /**
   * Lines read before the tail and redacted with it, then dropped: a secret that spans lines (a PEM
   * block) and starts before the tail is still recognised as a whole.
   */
  logContextLines: 100,
  logLineChars: 300,
  logBytes: 16 * 1024,
  /** Workload annotations shown (untrusted text), the chars of each key and value. */
  annotations: 20,
  annotationKeyChars: 253,
  annotationValueChars: 300,
  /** Chars of a container's termination message (untrusted text; the kubelet caps it at 4096 bytes). */
  terminationMessageChars: 300,
  /** 5xx ratio (0..1) from which the current revision counts as failing although its pods are Ready. */
  failingErrorRatio: 0.05,
} as const;

/** Prometheus duration syntax accepted for `window` (`30s`, `15m`, `2h`, `1d`). */
export const WINDOW_RE = /^[1-9][0-9]{0,5}(s|m|h|d)$/;

/** `text` cut to `max` UTF-16 characters, with `…` appended when it was cut. */
export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
