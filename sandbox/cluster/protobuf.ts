import { badRequest } from "./status.js";
import type { Obj } from "./world.js";

/**
 * Just enough of the Kubernetes protobuf encoding (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding)
 * to read the one body recent kubectl sends as `application/vnd.kubernetes.protobuf`: the
 * SelfSubjectAccessReview of `kubectl auth can-i`. A body is the magic `k8s\0` and a `runtime.Unknown`
 * (1 typeMeta {1 apiVersion, 2 kind}, 2 raw); `raw` is the SelfSubjectAccessReview (2 spec {1
 * resourceAttributes {1 namespace, 2 verb, 3 group, 4 version, 5 resource, 6 subresource, 7 name}}),
 * field numbers from k8s.io/api authorization/v1 generated.proto. Answers go back as JSON, which the
 * client also accepts.
 */

export const PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf";
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Field = { wire: number; value: number | Buffer };

/** The fields of one protobuf message: number → values in order. @throws StatusError 400 on bad wire data. */
function fields(buf: Buffer): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length || shift > 49) throw badRequest("malformed protobuf body: bad varint");
      const b = buf[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const num = Math.floor(key / 8);
    const wire = key % 8;
    let value: number | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw badRequest("malformed protobuf body: truncated field");
      value = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      if (i + len > buf.length) throw badRequest("malformed protobuf body: truncated field");
      value = buf.subarray(i, i + len);
      i += len;
    } else throw badRequest(`malformed protobuf body: wire type ${wire}`);
    const list = out.get(num) ?? [];
    list.push({ wire, value });
    out.set(num, list);
  }
  return out;
}

function bytes(m: Map<number, Field[]>, n: number): Buffer | undefined {
  const v = m.get(n)?.at(-1)?.value;
  return Buffer.isBuffer(v) ? v : undefined;
}

const str = (m: Map<number, Field[]>, n: number): string | undefined => bytes(m, n)?.toString("utf8");

/**
 * Decodes a protobuf-encoded SelfSubjectAccessReview into its JSON shape
 * (`{kind, apiVersion, spec: {resourceAttributes: {...}}}`).
 * @throws StatusError 400 when the body is not the `k8s\0` envelope of a SelfSubjectAccessReview,
 *   415 is the caller's to answer for any other protobuf body.
 */
export function decodeSelfSubjectAccessReview(body: Buffer): Obj {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw badRequest("protobuf body without the k8s\\0 envelope");
  }
  const unknown = fields(body.subarray(MAGIC.length));
  const typeMeta = fields(bytes(unknown, 1) ?? Buffer.alloc(0));
  const kind = str(typeMeta, 2);
  if (kind !== "SelfSubjectAccessReview") {
    throw badRequest(`protobuf body of kind ${kind ?? "(none)"}: expected SelfSubjectAccessReview`);
  }
  const review = fields(bytes(unknown, 2) ?? Buffer.alloc(0));
  const spec = fields(bytes(review, 2) ?? Buffer.alloc(0));
  const ra = bytes(spec, 1);
  const resourceAttributes: Record<string, string> = {};
  if (ra) {
    const a = fields(ra);
    const names = ["", "namespace", "verb", "group", "version", "resource", "subresource", "name"];
    for (let n = 1; n < names.length; n++) {
      const v = str(a, n);
      if (v !== undefined) resourceAttributes[names[n]!] = v;
    }
  }
  return {
    kind,
    apiVersion: str(typeMeta, 1) ?? "authorization.k8s.io/v1",
    spec: ra ? { resourceAttributes } : {},
  };
}
