import type { Obj } from "./world.js";

/**
 * Server-side printing: the `meta.k8s.io/v1` `Table` the API server answers when a client asks for
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get` sends), with the columns of
 * the real printers (kubernetes `pkg/printers/internalversion/printers.go`): Pods (Ready, Status,
 * Restarts, Age; wide: IP, Node), Deployments (Ready, Up-to-date, Available, Age; wide: Containers,
 * Images, Selector), ReplicaSets, StatefulSets, Namespaces and Events. Each row carries the object's
 * metadata as a `PartialObjectMetadata` (`includeObject=Metadata`, the default) or the whole object
 * (`includeObject=Object`).
 */

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const col = (name: string, type = "string", priority = 0, format = ""): Column => ({
  name,
  type,
  format,
  description: name,
  priority,
});

/** True when the `Accept` header asks for a meta.k8s.io/v1 Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => {
    const p = part.replace(/\s+/g, "");
    return (
      p.includes("as=Table") && p.includes("g=meta.k8s.io") && p.includes("v=v1") && !p.includes("v=v1beta1")
    );
  });
}

/**
 * `HumanDuration` of k8s.io/apimachinery/pkg/util/duration: `45s`, `3m20s`, `25m`, `5h10m`, `30h`,
 * `2d4h`, `60d`, `2y10d`, the AGE column's format. `ms` is a duration in milliseconds.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const d = Math.floor(hours / 24) % 365;
    const y = Math.floor(hours / 24 / 365);
    return d === 0 ? `${y}y` : `${y}y${d}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

const meta = (o: Obj): Obj => (o.metadata ?? {}) as Obj;
const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const age = (o: Obj, now: number): string => {
  const ts = meta(o).creationTimestamp;
  return typeof ts === "string" ? humanDuration(now - Date.parse(ts)) : "<unknown>";
};

function containers(o: Obj): { names: string; images: string } {
  const tpl = ((o.spec as Obj | undefined)?.template as Obj | undefined)?.spec as Obj | undefined;
  const list = (tpl?.containers ?? []) as Obj[];
  return {
    names: list.map((c) => String(c.name)).join(","),
    images: list.map((c) => String(c.image)).join(","),
  };
}

function selector(o: Obj): string {
  const sel = (o.spec as Obj | undefined)?.selector as Obj | undefined;
  const labels = (sel?.matchLabels ?? {}) as Record<string, string>;
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(",") : "<none>";
}

/** Pod status as kubectl shows it: a waiting/terminated reason wins over the phase; deleting is Terminating. */
function podStatus(pod: Obj): { ready: string; status: string; restarts: string } {
  const status = (pod.status ?? {}) as Obj;
  const cs = (status.containerStatuses ?? []) as Obj[];
  const total = ((pod.spec as Obj | undefined)?.containers as unknown[] | undefined)?.length ?? cs.length;
  let reason = String(status.reason ?? status.phase ?? "Unknown");
  let restarts = 0;
  let ready = 0;
  for (const c of cs) {
    restarts += num(c.restartCount);
    if (c.ready === true) ready++;
    const state = (c.state ?? {}) as Obj;
    const waiting = state.waiting as Obj | undefined;
    const terminated = state.terminated as Obj | undefined;
    if (waiting?.reason) reason = String(waiting.reason);
    else if (terminated?.reason) reason = String(terminated.reason);
  }
  if (meta(pod).deletionTimestamp) reason = "Terminating";
  return { ready: `${ready}/${total}`, status: reason, restarts: String(restarts) };
}

type Printer = { columns: Column[]; row: (o: Obj, now: number) => unknown[] };

const NAME = col("Name", "string", 0, "name");
const AGE = col("Age");
/** The wide columns a Deployment and a ReplicaSet end with (`kubectl get -o wide`). */
const WORKLOAD_TAIL = [
  AGE,
  col("Containers", "string", 1),
  col("Images", "string", 1),
  col("Selector", "string", 1),
];

/** The cells of {@link WORKLOAD_TAIL} for one object. */
function workloadTail(o: Obj, now: number): unknown[] {
  const c = containers(o);
  return [age(o, now), c.names, c.images, selector(o)];
}

const PRINTERS: Record<string, Printer> = {
  Pod: {
    columns: [
      NAME,
      col("Ready"),
      col("Status"),
      col("Restarts", "string"),
      AGE,
      col("IP", "string", 1),
      col("Node", "string", 1),
    ],
    row: (o, now) => {
      const s = podStatus(o);
      const st = (o.status ?? {}) as Obj;
      const spec = (o.spec ?? {}) as Obj;
      return [
        meta(o).name,
        s.ready,
        s.status,
        s.restarts,
        age(o, now),
        st.podIP ?? "<none>",
        spec.nodeName ?? "<none>",
      ];
    },
  },
  Deployment: {
    columns: [
      NAME,
      col("Ready"),
      col("Up-to-date", "integer"),
      col("Available", "integer"),
      ...WORKLOAD_TAIL,
    ],
    row: (o, now) => {
      const st = (o.status ?? {}) as Obj;
      const desired = num((o.spec as Obj | undefined)?.replicas);
      return [
        meta(o).name,
        `${num(st.readyReplicas)}/${desired}`,
        num(st.updatedReplicas),
        num(st.availableReplicas),
        ...workloadTail(o, now),
      ];
    },
  },
  ReplicaSet: {
    columns: [
      NAME,
      col("Desired", "integer"),
      col("Current", "integer"),
      col("Ready", "integer"),
      ...WORKLOAD_TAIL,
    ],
    row: (o, now) => {
      const st = (o.status ?? {}) as Obj;
      return [
        meta(o).name,
        num((o.spec as Obj | undefined)?.replicas),
        num(st.replicas),
        num(st.readyReplicas),
        ...workloadTail(o, now),
      ];
    },
  },
  StatefulSet: {
    columns: [NAME, col("Ready"), AGE, col("Containers", "string", 1), col("Images", "string", 1)],
    row: (o, now) => {
      const st = (o.status ?? {}) as Obj;
      const c = containers(o);
      return [
        meta(o).name,
        `${num(st.readyReplicas)}/${num((o.spec as Obj | undefined)?.replicas)}`,
        age(o, now),
        c.names,
        c.images,
      ];
    },
  },
  Namespace: {
    columns: [NAME, col("Status"), AGE],
    row: (o, now) => [meta(o).name, ((o.status ?? {}) as Obj).phase ?? "Active", age(o, now)],
  },
  Event: {
    columns: [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")],
    row: (o, now) => {
      const inv = (o.involvedObject ?? {}) as Obj;
      const last = (o.lastTimestamp ?? o.eventTime ?? meta(o).creationTimestamp) as string | undefined;
      return [
        last ? humanDuration(now - Date.parse(last)) : "<unknown>",
        o.type ?? "",
        o.reason ?? "",
        `${String(inv.kind ?? "").toLowerCase()}/${String(inv.name ?? "")}`,
        String(o.message ?? "").trim(),
      ];
    },
  },
};

/**
 * The Table for a list (`{kind: "PodList", items}`) or one object, or undefined when the sandbox has no
 * printer for its kind (the caller then answers the plain object, which kubectl prints as NAME/AGE).
 * `includeObject` is the request's query parameter: `None`, `Metadata` (default) or `Object`.
 */
export function toTable(body: Obj, includeObject: string | null, now = Date.now()): Obj | undefined {
  const isList = Array.isArray(body.items);
  const kind = isList ? String(body.kind ?? "").replace(/List$/, "") : String(body.kind ?? "");
  const printer = PRINTERS[kind];
  if (!printer) return undefined;
  const items = isList ? (body.items as Obj[]) : [body];
  const listMeta = (body.metadata ?? {}) as Obj;
  const mode = includeObject ?? "Metadata";
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: String(listMeta.resourceVersion ?? "") },
    columnDefinitions: printer.columns,
    rows: items.map((o) => ({
      cells: printer.row(o, now),
      ...(mode === "None"
        ? {}
        : {
            object:
              mode === "Object"
                ? o
                : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: meta(o) },
          }),
    })),
  };
}
