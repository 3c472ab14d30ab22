/** mcp-infra: Backstop's read-only infra MCP server (streamable HTTP) over `@kubernetes/client-node`. */

export { PROTECTED_LABEL } from "../src/contracts/k8s.js";
export {
  createInfraMcpServer,
  INFRA_SERVER_INFO,
  type InfraServerOptions,
  startInfraMcpHttp,
} from "./server.js";
export { LIMITS } from "./signals.js";
