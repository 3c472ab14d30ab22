import { type AlertmanagerAlert, type AlertmanagerWebhook, parseRfc3339, ZERO_TIME } from "./alertmanager.js";

/**
 * The intake's fast path for a notification that is certainly valid: the same checks as
 * `IntakeWebhookSchema` (src/contracts/alertmanager.ts) written out by hand, building the same output
 * (unknown keys dropped, defaults filled, keys in the schema's order), at a fraction of zod's cost per
 * request. Anything it is not sure of — a failed check, a key named `__proto__`, an object that is not
 * plain — gives null, and the caller asks the schema, which also names the errors. So it never
 * accepts what the schema refuses nor answers differently (test/contracts/alertmanager-fast.test.ts
 * compares the two over valid and mutated notifications).
 */

type Json = Record<string, unknown>;

function plain(v: unknown): v is Json {
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** A copy of a string-to-string map (`z.record(z.string(), z.string())`), or null. */
function stringMap(v: unknown): Record<string, string> | null {
  if (!plain(v)) return null;
  const out: Record<string, string> = {};
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (typeof x !== "string" || k === "__proto__") return null;
    out[k] = x;
  }
  return out;
}

const firingOrResolved = (v: unknown): v is "firing" | "resolved" => v === "firing" || v === "resolved";
const rfc3339 = (v: unknown): v is string =>
  v === ZERO_TIME || (typeof v === "string" && parseRfc3339(v) !== null);

function alertOf(a: unknown): AlertmanagerAlert | null {
  if (!plain(a)) return null;
  const { status, startsAt, endsAt = ZERO_TIME, generatorURL = "", fingerprint } = a;
  if (!firingOrResolved(status) || !rfc3339(startsAt) || !rfc3339(endsAt)) return null;
  if (typeof generatorURL !== "string" || typeof fingerprint !== "string") return null;
  if (fingerprint.length < 1 || fingerprint.length > 128) return null;
  const labels = stringMap(a.labels);
  const annotations = a.annotations === undefined ? {} : stringMap(a.annotations);
  if (!labels || !annotations) return null;
  return { status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint };
}

/**
 * `IntakeWebhookSchema.parse(json)` when `json` (a `JSON.parse` result) certainly validates, else null
 * (not necessarily invalid: ask the schema). Never throws.
 */
export function parseIntakeFast(json: unknown): AlertmanagerWebhook | null {
  if (!plain(json)) return null;
  const { version, groupKey, truncatedAlerts = 0, status, receiver, externalURL = "" } = json;
  if (version !== "4" || typeof groupKey !== "string" || !firingOrResolved(status)) return null;
  if (groupKey.length < 1 || groupKey.length > 16 * 1024) return null;
  if (typeof truncatedAlerts !== "number" || !Number.isSafeInteger(truncatedAlerts) || truncatedAlerts < 0)
    return null;
  if (typeof receiver !== "string" || typeof externalURL !== "string") return null;
  const map = (v: unknown) => (v === undefined ? {} : stringMap(v));
  const groupLabels = map(json.groupLabels);
  const commonLabels = map(json.commonLabels);
  const commonAnnotations = map(json.commonAnnotations);
  if (!groupLabels || !commonLabels || !commonAnnotations) return null;
  if (!Array.isArray(json.alerts) || json.alerts.length < 1) return null;
  const alerts: AlertmanagerAlert[] = [];
  for (const a of json.alerts) {
    const alert = alertOf(a);
    if (!alert) return null;
    alerts.push(alert);
  }
  return {
    version,
    groupKey,
    truncatedAlerts,
    status,
    receiver,
    groupLabels,
    commonLabels,
    commonAnnotations,
    externalURL,
    alerts,
  };
}
