import { z } from "zod";

/**
 * Alertmanager's webhook notification, version 4
 * (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), and the bounds Backstop
 * puts on it before anything is queued or reaches a prompt.
 *
 * Timestamps are RFC 3339 (`date-time` of RFC 3339 §5.6): Alertmanager marshals Go `time.Time`, so
 * `startsAt` is always set and `endsAt` is `0001-01-01T00:00:00Z` (Go's zero time) while an alert has
 * no end; both are valid RFC 3339.
 */

const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Go's zero `time.Time` as Alertmanager sends it for an alert with no end. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parses an RFC 3339 `date-time` (§5.6: full-date "T" full-time, with `Z` or a numeric offset;
 * fractional seconds up to nanoseconds) into ms since the epoch, checking every field's range
 * (month 1–12, day within its month, hour ≤ 23, minute ≤ 59, second ≤ 60 — a leap second counts as
 * :59.999 —, offset hours ≤ 23). Returns null for anything else, e.g. `2025-02-30T25:61:00Z`,
 * `not-a-timestamp`, `2025-01-01 10:00:00Z` or a date without a time. Never throws.
 */
export function parseRfc3339(s: string): number | null {
  const m = RFC3339_RE.exec(s);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  if (m[9] && (Number(m[10]) > 23 || Number(m[11]) > 59)) return null;
  const frac = m[7] ? Number(`0${m[7]}`) * 1000 : 0;
  const leap = second === 60;
  let base = Date.UTC(year, month - 1, day, hour, minute, leap ? 59 : second);
  if (year < 100) {
    // Date.UTC maps years 0–99 to 1900–1999; set the full year back.
    const d = new Date(base);
    d.setUTCFullYear(year);
    base = d.getTime();
  }
  const offsetMin = m[9] ? (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  return base + (leap ? 999 : Math.floor(frac)) - offsetMin * 60_000;
}

/** A string that is an RFC 3339 timestamp ({@link parseRfc3339}). */
export const Rfc3339Schema = z
  .string({ error: "required: an RFC 3339 timestamp such as 2026-11-21T11:50:00Z" })
  .refine((s) => parseRfc3339(s) !== null, "expected an RFC 3339 timestamp such as 2026-11-21T11:50:00Z");

const StringMap = z.record(z.string(), z.string());

/** One alert of a notification. */
export const AlertmanagerAlertSchema = z.object({
  status: z.enum(["firing", "resolved"]),
  labels: StringMap,
  annotations: StringMap.default({}),
  /** Optional here only so scenario files may leave it out (it is filled from `onset_minutes_ago`); the intake requires it. */
  startsAt: Rfc3339Schema.optional(),
  endsAt: Rfc3339Schema.default(ZERO_TIME),
  generatorURL: z.string().default(""),
  /** Alertmanager's is 16 hex digits; bounded so a hostile one cannot bloat keys, notes and answers. */
  fingerprint: z.string().min(1).max(128),
});

/** The whole notification (`version: "4"`, at least one alert). */
export const AlertmanagerWebhookSchema = z.object({
  version: z.literal("4"),
  groupKey: z
    .string()
    .min(1)
    .max(16 * 1024),
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(["firing", "resolved"]),
  receiver: z.string(),
  groupLabels: StringMap.default({}),
  commonLabels: StringMap.default({}),
  commonAnnotations: StringMap.default({}),
  externalURL: z.string().default(""),
  alerts: z.array(AlertmanagerAlertSchema).min(1),
});
export type AlertmanagerWebhook = z.infer<typeof AlertmanagerWebhookSchema>;
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlertSchema>;

/**
 * The intake's schema: {@link AlertmanagerWebhookSchema} with `startsAt` required (Alertmanager
 * always sends it; without it the onset would silently become the receive time).
 */
export const IntakeWebhookSchema = AlertmanagerWebhookSchema.extend({
  alerts: z.array(AlertmanagerAlertSchema.extend({ startsAt: Rfc3339Schema })).min(1),
});

/**
 * Bounds on what one alert may carry, applied before it is queued or reaches a prompt. Bytes are
 * UTF-8 bytes. Labels are an alert's identity (its workload, its incident key), so an alert over a
 * label bound is refused (skipped with its reason) rather than cut; annotations are free text, so they
 * are cut: a value over {@link INTAKE_LIMITS.annotationValueBytes} ends in {@link TRUNCATION_MARKER},
 * annotations past the count or the total are dropped, and `backstop_truncated` says what was cut.
 * kubernetes-mixin alerts carry about 10–15 labels of well under 100 bytes each.
 */
export const INTAKE_LIMITS = {
  /** Largest request body (bytes). Alertmanager's `max_alerts` keeps real bodies far smaller. */
  bodyBytes: 1024 * 1024,
  /** Labels per alert (count). */
  labels: 64,
  /** Bytes per label name. Prometheus label names are short identifiers. */
  labelNameBytes: 128,
  /** Bytes per label value. */
  labelValueBytes: 1024,
  /** Bytes over all label names and values of one alert. */
  labelsTotalBytes: 8 * 1024,
  /** Annotations per alert (count); more are dropped. */
  annotations: 32,
  /** Bytes per annotation value; longer ones are cut with {@link TRUNCATION_MARKER}. */
  annotationValueBytes: 2048,
  /** Bytes over all annotation names and values of one alert; past it the rest are dropped. */
  annotationsTotalBytes: 8 * 1024,
  /** Characters kept of `generatorURL`, `externalURL` and `receiver` (links and names; longer ones are cut). */
  urlChars: 2048,
} as const;

/** What ends a value cut by the intake. */
export const TRUNCATION_MARKER = "…[truncated by backstop]";

/** The annotation that names what the intake cut from an alert's annotations. */
export const TRUNCATED_ANNOTATION = "backstop_truncated";

const utf8 = (s: string): number => Buffer.byteLength(s, "utf8");

/** Cuts `s` to at most `max` UTF-8 bytes including the marker, on a character boundary. */
function cutBytes(s: string, max: number): string {
  const budget = max - utf8(TRUNCATION_MARKER);
  let out = "";
  let used = 0;
  for (const ch of s) {
    const n = utf8(ch);
    if (used + n > budget) break;
    out += ch;
    used += n;
  }
  return out + TRUNCATION_MARKER;
}

/**
 * Why an alert's labels are over the bounds ({@link INTAKE_LIMITS}), or null when they are within
 * them. Never throws.
 */
export function labelsOverLimit(labels: Record<string, string>): string | null {
  const entries = Object.entries(labels);
  if (entries.length > INTAKE_LIMITS.labels)
    return `${entries.length} labels, more than the ${INTAKE_LIMITS.labels} allowed`;
  let total = 0;
  for (const [k, v] of entries) {
    if (utf8(k) > INTAKE_LIMITS.labelNameBytes)
      return `a label name is longer than ${INTAKE_LIMITS.labelNameBytes} bytes`;
    if (utf8(v) > INTAKE_LIMITS.labelValueBytes)
      return `label ${JSON.stringify(k.slice(0, 64))} is longer than ${INTAKE_LIMITS.labelValueBytes} bytes`;
    total += utf8(k) + utf8(v);
  }
  if (total > INTAKE_LIMITS.labelsTotalBytes)
    return `labels total ${total} bytes, more than the ${INTAKE_LIMITS.labelsTotalBytes} allowed`;
  return null;
}

/** The annotations kubernetes-mixin (and most rules) set, kept first when some must be dropped. */
const PRIMARY_ANNOTATIONS = ["summary", "description", "message", "runbook_url"];

/**
 * Annotations within {@link INTAKE_LIMITS}: values cut with {@link TRUNCATION_MARKER}, the first
 * {@link INTAKE_LIMITS.annotations} kept (summary, description, message, runbook_url first, then by
 * name) until the total is reached, and
 * {@link TRUNCATED_ANNOTATION} naming what was cut (names over {@link INTAKE_LIMITS.labelNameBytes}
 * are cut too). Returns the same object when nothing was cut.
 */
export function boundAnnotations(annotations: Record<string, string>): Record<string, string> {
  if (annotationsWithin(annotations)) return annotations;
  const rank = (k: string): number => {
    const i = PRIMARY_ANNOTATIONS.indexOf(k);
    return i < 0 ? PRIMARY_ANNOTATIONS.length : i;
  };
  const entries = Object.entries(annotations)
    .filter(([k]) => k !== TRUNCATED_ANNOTATION)
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: Record<string, string> = {};
  let cut = 0;
  let names = 0;
  let dropped = 0;
  let total = 0;
  for (const [k0, v0] of entries) {
    if (Object.keys(out).length >= INTAKE_LIMITS.annotations) {
      dropped++;
      continue;
    }
    let k = k0;
    if (utf8(k0) > INTAKE_LIMITS.labelNameBytes) {
      k = cutBytes(k0, INTAKE_LIMITS.labelNameBytes);
      names++;
    }
    let v = v0;
    if (utf8(v) > INTAKE_LIMITS.annotationValueBytes) {
      v = cutBytes(v, INTAKE_LIMITS.annotationValueBytes);
      cut++;
    }
    const size = utf8(k) + utf8(v);
    if (total + size > INTAKE_LIMITS.annotationsTotalBytes) {
      dropped++;
      continue;
    }
    total += size;
    out[k] = v;
  }
  const note: string[] = [];
  if (cut > 0) note.push(`${cut} value(s) cut to ${INTAKE_LIMITS.annotationValueBytes} bytes`);
  if (names > 0) note.push(`${names} name(s) cut to ${INTAKE_LIMITS.labelNameBytes} bytes`);
  if (dropped > 0) note.push(`${dropped} annotation(s) dropped`);
  if (note.length > 0) out[TRUNCATED_ANNOTATION] = note.join("; ");
  return out;
}

/**
 * True when {@link boundAnnotations} would cut nothing (the common case): at most
 * {@link INTAKE_LIMITS.annotations} entries, none named {@link TRUNCATED_ANNOTATION}, every name and
 * value and their total within the byte bounds. Then it returns `annotations` itself, unsorted.
 */
function annotationsWithin(annotations: Record<string, string>): boolean {
  let n = 0;
  let total = 0;
  for (const k in annotations) {
    if (!Object.hasOwn(annotations, k)) continue;
    const v = annotations[k] as string;
    if (++n > INTAKE_LIMITS.annotations || k === TRUNCATED_ANNOTATION) return false;
    const kb = utf8(k);
    const vb = utf8(v);
    if (kb > INTAKE_LIMITS.labelNameBytes || vb > INTAKE_LIMITS.annotationValueBytes) return false;
    total += kb + vb;
  }
  return total <= INTAKE_LIMITS.annotationsTotalBytes;
}

/**
 * A label map (the notification's `commonLabels`/`groupLabels`, which Alertmanager derives from the
 * alerts) within the label bounds: entries past the count or over the byte bounds are dropped. Never throws.
 */
export function boundLabelMap(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  let total = 0;
  for (const [k, v] of Object.entries(labels)) {
    if (Object.keys(out).length >= INTAKE_LIMITS.labels) break;
    const size = utf8(k) + utf8(v);
    if (utf8(k) > INTAKE_LIMITS.labelNameBytes || utf8(v) > INTAKE_LIMITS.labelValueBytes) continue;
    if (total + size > INTAKE_LIMITS.labelsTotalBytes) break;
    total += size;
    out[k] = v;
  }
  return out;
}
