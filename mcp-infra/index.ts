/** mcp-infra: Backstop's read-only infra MCP server (streamable HTTP) over `@kubernetes/client-node`. */
export {
  createInfraMcpServer,
  INFRA_SERVER_INFO,
  type InfraServerOptions,
  startInfraMcpHttp,
} from "./server.js";
export { LIMITS } from "./signals.js";
export { PROTECTED_LABEL } from "./tools/namespaces.js";
