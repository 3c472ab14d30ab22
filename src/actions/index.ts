/**
 * `src/actions`: Backstop's narrow write path ({@link WritePath}) and the per-cluster writers. The naive
 * baseline agent's unguarded tools live in the sandbox (`sandbox/naive/tools.ts`), not here.
 */
export { ClusterWriters, loadKubeConfig } from "./clusters.js";
export {
  type ActionRecord,
  ActionRecordSchema,
  idempotencyKey,
  LAST_ACTION_ANNOTATION,
  validateAction,
  WritePath,
  type WritePathOptions,
} from "./write-path.js";
