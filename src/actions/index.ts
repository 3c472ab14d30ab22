/**
 * `src/actions`: Backstop's narrow write path ({@link WritePath}) and the per-cluster writers. The naive
 * baseline agent's unguarded tools live in the sandbox (`sandbox/naive/tools.ts`), not here.
 */
export { LAST_ACTION_ANNOTATION } from "../contracts/k8s.js";
export { ClusterWriters, loadKubeConfig } from "./clusters.js";
export {
  type ActionRecord,
  ActionRecordSchema,
  idempotencyKey,
  validateAction,
  WritePath,
  type WritePathOptions,
} from "./write-path.js";
