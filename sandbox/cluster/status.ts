/**
 * Kubernetes `Status` bodies, the shape the API server answers every error with
 * (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/), and the
 * `StatusReason` the server sets for each HTTP code (k8s.io/apimachinery/pkg/apis/meta/v1/types.go).
 */

/** A `Status` cause (`details.causes[]`), e.g. `{reason:"FieldValueInvalid", field:"spec.replicas"}`. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** `details` of a `Status`: the object's name, API group and kind (the resource for Forbidden/NotFound). */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A `Status` object (`kind: "Status"`, `apiVersion: "v1"`), `status` always `"Failure"` here. */
export interface K8sStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** The `StatusReason` the API server uses for an HTTP status code; `InternalError` for unknown 5xx, `BadRequest` for unknown 4xx. */
export function reasonForCode(code: number): string {
  const reasons: Record<number, string> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
  };
  return reasons[code] ?? (code >= 500 ? "InternalError" : "BadRequest");
}

/** An error carrying a `Status` body; thrown inside the sandbox server and turned into the HTTP answer. */
export class StatusError extends Error {
  /** The `Status` body to send, its `code` is the HTTP status. */
  readonly status: K8sStatus;
  constructor(code: number, message: string, details?: StatusDetails, reason = reasonForCode(code)) {
    super(message);
    this.name = "StatusError";
    this.status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details === undefined ? {} : { details }),
      code,
    };
  }
}

/** `<resource>.<group>` as the API server prints a qualified resource (`deployments.apps`, `pods`). */
export function qualified(resource: string, group: string): string {
  return group === "" ? resource : `${resource}.${group}`;
}

/** 404 NotFound: `deployments.apps "checkout" not found`. */
export function notFound(resource: string, group: string, name: string): StatusError {
  return new StatusError(404, `${qualified(resource, group)} "${name}" not found`, {
    name,
    group,
    kind: resource,
  });
}

/** 409 Conflict on a stale `metadata.resourceVersion` (optimistic concurrency, the API server's own wording). */
export function conflict(resource: string, group: string, name: string): StatusError {
  return new StatusError(
    409,
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group, kind: resource },
  );
}

/** 422 Invalid: `Deployment.apps "checkout" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): StatusError {
  const q = group === "" ? kind : `${kind}.${group}`;
  const text = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(", ");
  return new StatusError(422, `${q} "${name}" is invalid: ${text}`, { name, group, kind, causes });
}

/** 400 BadRequest with a message. */
export function badRequest(message: string): StatusError {
  return new StatusError(400, message);
}
