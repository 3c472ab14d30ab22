import { sameJson } from "../../../src/contracts/canonical.js";
import { conflict, invalid, type StatusCause } from "../status.js";
import { containersOf, isObj, strMap, templateLabels } from "./template.js";
import type { Obj } from "./types.js";

/**
 * Checks for workload writes, as the API server's validation does them (apps/v1 validation in
 * k8s.io/kubernetes/pkg/apis/apps/validation): replica counts, the pod template's containers, selector
 * immutability, and optimistic concurrency on `metadata.resourceVersion`.
 */

/**
 * Optimistic concurrency: a `metadata.resourceVersion` in the written object must equal the stored one.
 * @throws StatusError 409 Conflict naming `resource` in group `apps`.
 */
export function checkResourceVersion(meta: Obj, rv: number, resource: string, name: string): void {
  if (
    meta.resourceVersion !== undefined &&
    meta.resourceVersion !== null &&
    String(meta.resourceVersion) !== String(rv)
  ) {
    throw conflict(resource, "apps", name);
  }
}

/** The labels and annotations of a written `metadata`, and whether they differ from the stored ones. */
export function metaChange(
  meta: Obj,
  stored: { labels: Record<string, string>; annotations: Record<string, string> },
  dropAnnotation?: string,
): { labels: Record<string, string>; annotations: Record<string, string>; changed: boolean } {
  const labels = strMap(meta.labels);
  const annotations = strMap(meta.annotations);
  if (dropAnnotation) delete annotations[dropAnnotation];
  const changed = !sameJson(labels, stored.labels) || !sameJson(annotations, stored.annotations);
  return { labels, annotations, changed };
}

/** Collects `Status` causes for one object. */
function causeList() {
  const causes: StatusCause[] = [];
  return {
    causes,
    invalidValue: (field: string, value: unknown, why: string) =>
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
        field,
      }),
    required: (field: string) =>
      causes.push({ reason: "FieldValueRequired", message: "Required value", field }),
  };
}

/**
 * Validates a Deployment spec (or, for `kind: "Scale"`, only `spec.replicas`) against the stored `selector`.
 * @throws StatusError 422 Invalid with one cause per bad field.
 */
export function validateDeploymentSpec(
  name: string,
  storedSelector: unknown,
  spec: Obj,
  kind: "Deployment" | "Scale",
): void {
  const { causes, invalidValue, required } = causeList();
  const replicas = spec.replicas;
  if (replicas !== undefined && (typeof replicas !== "number" || !Number.isInteger(replicas))) {
    invalidValue("spec.replicas", replicas, "must be an integer");
  } else if (typeof replicas === "number" && replicas < 0) {
    invalidValue("spec.replicas", replicas, "must be greater than or equal to 0");
  }
  if (kind === "Scale") {
    if (causes.length) throw invalid("Scale", "autoscaling", name, causes);
    return;
  }
  const template = spec.template;
  if (!isObj(template)) required("spec.template");
  else {
    const selector = isObj(spec.selector) ? strMap(spec.selector.matchLabels) : {};
    const labels = templateLabels(template);
    if (Object.entries(selector).some(([k, v]) => labels[k] !== v)) {
      invalidValue("spec.template.metadata.labels", labels, "`selector` does not match template `labels`");
    }
    const tspec = isObj(template.spec) ? template.spec : undefined;
    const containers = tspec && Array.isArray(tspec.containers) ? tspec.containers : undefined;
    if (!containers || containers.length === 0) required("spec.template.spec.containers");
    else {
      containers.forEach((c, i) => {
        if (!isObj(c) || typeof c.name !== "string" || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(c.name)) {
          required(`spec.template.spec.containers[${i}].name`);
        }
        if (!isObj(c) || typeof c.image !== "string" || c.image.trim() === "") {
          required(`spec.template.spec.containers[${i}].image`);
        }
      });
    }
  }
  if (!sameJson(spec.selector, storedSelector)) {
    invalidValue("spec.selector", spec.selector, "field is immutable");
  }
  if (causes.length) throw invalid("Deployment", "apps", name, causes);
}

/**
 * Validates a StatefulSet spec: non-negative integer replicas, a template with containers that all name an image.
 * @throws StatusError 422 Invalid.
 */
export function validateStatefulSetSpec(name: string, spec: Obj): void {
  const { causes, invalidValue, required } = causeList();
  const replicas = spec.replicas;
  if (
    replicas !== undefined &&
    (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0)
  ) {
    invalidValue("spec.replicas", replicas, "must be greater than or equal to 0");
  }
  const containers = isObj(spec.template) ? containersOf(spec.template) : [];
  if (containers.length === 0 || containers.some((c) => !c.image)) required("spec.template.spec.containers");
  if (causes.length) throw invalid("StatefulSet", "apps", name, causes);
}

/** A one-line summary of a workload write for the mutation log (images, replicas, annotations changed). */
export function describeChange(
  oldSpec: Obj,
  newSpec: Obj,
  oldAnn: Record<string, string>,
  newAnn: Record<string, string>,
): string {
  const parts: string[] = [];
  const oldImages = containersOf(oldSpec.template as Obj);
  const newImages = containersOf(newSpec.template as Obj);
  for (const c of newImages) {
    const o = oldImages.find((x) => x.name === c.name);
    if (o && o.image !== c.image) parts.push(`image ${c.name}: ${o.image} → ${c.image}`);
    if (!o) parts.push(`container ${c.name} added (${c.image})`);
  }
  if (oldSpec.replicas !== newSpec.replicas)
    parts.push(`replicas ${String(oldSpec.replicas)} → ${String(newSpec.replicas)}`);
  const templateAnnotations = (spec: Obj) => {
    const t = spec.template as Obj | undefined;
    return strMap(isObj(t?.metadata) ? t.metadata.annotations : {});
  };
  const oldT = templateAnnotations(oldSpec);
  const newT = templateAnnotations(newSpec);
  for (const [k, v] of Object.entries(newT)) if (oldT[k] !== v) parts.push(`template annotation ${k}=${v}`);
  for (const [k, v] of Object.entries(newAnn)) if (oldAnn[k] !== v) parts.push(`annotation ${k}=${v}`);
  if (parts.length === 0) parts.push("spec changed");
  return parts.join("; ");
}
