/** The sandbox's Linear-like tickets MCP server. */
export { type Issue, type RecordedCall, type SandboxTickets, startSandboxTickets } from "./server.js";
