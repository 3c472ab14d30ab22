import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { BackstopError, errorMessage } from "../../src/errors.js";
import { childLogger } from "../../src/log.js";

const log = childLogger("mcp-infra");

/**
 * The read-only annotations every mcp-infra tool carries (MCP `ToolAnnotations`, spec 2025-06-18:
 * https://modelcontextprotocol.io/specification/2025-06-18/server/tools#tool-annotations).
 */
export const READ_ONLY_ANNOTATIONS = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
} as const;

/**
 * Runs a tool body and shapes the MCP `CallToolResult`: on success `structuredContent` plus the same JSON
 * as a text block (the spec asks servers to do both for clients without structured output); on failure a
 * tool error (`isError: true`) whose text is `<code>: <message>`, so the model and the client see why.
 * Never throws.
 */
export async function toolResult<T extends Record<string, unknown>>(
  tool: string,
  body: () => Promise<T>,
): Promise<CallToolResult> {
  try {
    const structured = await body();
    return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured };
  } catch (err) {
    const code = err instanceof BackstopError ? err.code : "infra.internal";
    const message = errorMessage(err);
    log.warn({ tool, code, err: message }, "tool error");
    return { content: [{ type: "text", text: `${code}: ${message}` }], isError: true };
  }
}
