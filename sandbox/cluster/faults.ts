import type { ClusterFault } from "../../scenarios/schema.js";
import type { SandboxUser } from "./rbac.js";

/** The attributes of a request that a {@link ClusterFault} matches on. */
export interface FaultRequest {
  verb: string;
  /** Resource as RBAC names it (`deployments`, `deployments/scale`, `pods/log`). */
  resource: string;
  namespace: string;
  name: string;
  user: SandboxUser;
  dryRun: boolean;
}

/**
 * Injects `scenario.faults.cluster`: each fault counts the requests it matches; the first `after` pass, the next
 * `times` fire (a `Status` error with `status`, and/or a hang of `hang_ms` before answering).
 */
export class FaultInjector {
  private readonly faults: ClusterFault[];
  private readonly seen: number[];

  /** @param faults the scenario's `faults.cluster` list (already parsed by `ScenarioSchema`). */
  constructor(faults: ClusterFault[]) {
    this.faults = faults;
    this.seen = faults.map(() => 0);
  }

  /** Counts `req` against every matching fault and returns the first one that fires now, if any. */
  next(req: FaultRequest): ClusterFault | undefined {
    let firing: ClusterFault | undefined;
    this.faults.forEach((f, i) => {
      if (f.verb !== req.verb || f.resource !== req.resource) return;
      if (f.namespace !== undefined && f.namespace !== req.namespace) return;
      if (f.name !== undefined && f.name !== req.name) return;
      if (f.token !== undefined && f.token !== req.user) return;
      if (f.dry_run !== undefined && f.dry_run !== req.dryRun) return;
      const n = ++this.seen[i]!;
      if (n > f.after && n <= f.after + f.times && firing === undefined) firing = f;
    });
    return firing;
  }
}
