/**
 * `src/actions`: Backstop's narrow write path ({@link WritePath}) and, kept apart, the naive baseline
 * agent's unguarded tools ({@link NaiveTools}, sandbox only).
 */
export { ClusterWriters, loadKubeConfig } from "./clusters.js";
export { NaiveTools, type NaiveToolsOptions } from "./naive-tools.js";
export {
  type ActionRecord,
  ActionRecordSchema,
  idempotencyKey,
  LAST_ACTION_ANNOTATION,
  validateAction,
  WritePath,
  type WritePathOptions,
} from "./write-path.js";
