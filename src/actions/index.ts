/**
 * `src/actions`: Backstop's narrow write path ({@link WritePath}) and, kept apart, the naive baseline
 * agent's unguarded tools ({@link NaiveTools}, sandbox only).
 */
export { LAST_ACTION_ANNOTATION } from "../contracts/k8s.js";
export { ClusterWriters, loadKubeConfig } from "./clusters.js";
export { NaiveTools, type NaiveToolsOptions } from "./naive-tools.js";
export {
  type ActionRecord,
  ActionRecordSchema,
  idempotencyKey,
  validateAction,
  WritePath,
  type WritePathOptions,
} from "./write-path.js";
