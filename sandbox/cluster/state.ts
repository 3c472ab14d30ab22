import type { FaultInjector } from "./faults.js";
import type { SandboxUser } from "./rbac.js";
import type { World } from "./world.js";

/** What the request handler needs from the running cluster; `world` and `faults` change on reset. */
export interface ServerState {
  world: World;
  faults: FaultInjector;
  /** token → user. */
  users: Map<string, SandboxUser>;
  /** Sleeps `ms`, resolving early when the server closes. */
  sleep(ms: number): Promise<void>;
}
