/** Backstop's MCP clients with tool allow-lists: infra (read-only) and notify (ticket creation only). */
export {
  AllowListedMcpClient,
  type AllowListOptions,
  parseToolOutput,
  type ToolCallOutput,
} from "./allowlist.js";
export {
  connectInfra,
  INFRA_TOOL_ALLOW_LIST,
  type InfraClient,
  type InfraClientOptions,
  type NamespaceInfo,
} from "./infra.js";
export {
  connectNotify,
  NOTIFY_DEFAULT_ALLOW,
  type NotifyClient,
  type NotifyClientOptions,
  type TicketInput,
} from "./notify.js";
export {
  DEFAULT_MCP_CLIENT_MAX_AGE_MS,
  type LeaseSpec,
  leaseAll,
  McpClientPool,
  type McpLease,
  type PooledMcpClient,
} from "./pool.js";
