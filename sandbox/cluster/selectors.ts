import { badRequest } from "./status.js";

/**
 * Label and field selectors as the Kubernetes API parses them
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors and
 * .../field-selectors/). Equality (`=`, `==`, `!=`) and set-based (`in`, `notin`, `key`, `!key`) forms.
 */

/** One parsed requirement of a selector. */
export interface Requirement {
  key: string;
  op: "=" | "!=" | "in" | "notin" | "exists" | "!exists";
  values: string[];
}

/** Splits a selector on commas that are not inside `( … )`. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * Parses a label selector string (`app=checkout,tier in (web,api),!canary`).
 * @throws StatusError 400 on a malformed requirement.
 */
export function parseLabelSelector(text: string | undefined): Requirement[] {
  if (!text) return [];
  return splitTop(text).map((part) => {
    let m = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) {
      const values = m[3]!.split(",").map((v) => v.trim());
      return { key: m[1]!, op: m[2] as "in" | "notin", values };
    }
    m = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s,()]*)$/.exec(part);
    if (m) return { key: m[1]!, op: m[2] === "!=" ? "!=" : "=", values: [m[3]!] };
    m = /^!\s*([^\s!=()]+)$/.exec(part);
    if (m) return { key: m[1]!, op: "!exists", values: [] };
    m = /^([^\s!=()]+)$/.exec(part);
    if (m) return { key: m[1]!, op: "exists", values: [] };
    throw badRequest(`unable to parse requirement: invalid label selector: "${part}"`);
  });
}

/** True when value `v` (undefined: the key is absent) satisfies requirement `r`. */
export function matchesValue(r: Requirement, v: string | undefined): boolean {
  switch (r.op) {
    case "=":
      return v === r.values[0];
    case "!=":
      return v !== r.values[0];
    case "in":
      return v !== undefined && r.values.includes(v);
    case "notin":
      return v === undefined || !r.values.includes(v);
    case "exists":
      return v !== undefined;
    case "!exists":
      return v === undefined;
  }
  return false;
}

/** True when `labels` satisfy every requirement. */
export function matchesLabels(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => matchesValue(r, l[r.key]));
}

/**
 * Parses a field selector (`involvedObject.name=checkout-1,involvedObject.kind=Pod`) and checks the fields
 * against the ones the resource supports, as the API server does.
 * @throws StatusError 400 `"x" is not a known field selector: only "a", "b"` or on a malformed term.
 */
export function parseFieldSelector(text: string | undefined, known: readonly string[]): Requirement[] {
  if (!text) return [];
  return splitTop(text).map((part) => {
    const m = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const key = m[1]!;
    if (!known.includes(key)) {
      throw badRequest(
        `"${key}" is not a known field selector: only ${known.map((k) => `"${k}"`).join(", ")}`,
      );
    }
    return { key, op: m[2] === "!=" ? "!=" : "=", values: [m[3]!.trim()] };
  });
}

/** True when the object's field values (flattened, `a.b` → value) satisfy every requirement. */
export function matchesFields(reqs: Requirement[], fields: Record<string, string>): boolean {
  return matchesLabels(reqs, fields);
}

/** `app=checkout,tier=web` from `matchLabels`, as the Scale subresource's `status.selector` shows it. */
export function selectorString(matchLabels: Record<string, string>): string {
  return Object.entries(matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}
