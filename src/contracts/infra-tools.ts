/**
 * Output contracts of the read-only infra MCP server's `namespaces` and `resolve_owner` tools, defined once:
 * the server (`mcp-infra/tools/*.ts`) declares them as its tools' `outputSchema`, and Backstop's client
 * (`src/mcp/infra.ts`) parses the tools' `structuredContent` with them (MCP "Tools: output schema",
 * https://modelcontextprotocol.io/specification/2025-06-18/server/tools#output-schema).
 */
import { z } from "zod";

/**
 * One namespace as `namespaces` returns it: `name`, `phase` (`Active`/`Terminating`, null when unset),
 * `labels`, `protected` (true when the label `backstop.dev/protected` is `"true"`) and `created_at`
 * (ISO 8601 creation time, null when unset).
 */
export const NamespaceInfoSchema = z.object({
  name: z.string(),
  phase: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  protected: z.boolean(),
  created_at: z.string().nullable(),
});
/** One namespace, see {@link NamespaceInfoSchema}. */
export type NamespaceInfo = z.infer<typeof NamespaceInfoSchema>;

/** Output of `namespaces`: the namespaces sorted by name, and whether the server cut the list short. */
export const NamespacesOutputSchema = z.object({
  namespaces: z.array(NamespaceInfoSchema),
  truncated: z.boolean(),
});
/** Output of `namespaces`, see {@link NamespacesOutputSchema}. */
export type NamespacesOutput = z.infer<typeof NamespacesOutputSchema>;

/**
 * Output of `resolve_owner`: the owning workload (`namespace`, `kind`, `name`) and the chain of objects
 * read to reach it (`{kind, name}` each, the named object first, the owner last).
 */
export const ResolveOwnerOutputSchema = z.object({
  namespace: z.string(),
  kind: z.string(),
  name: z.string(),
  chain: z.array(z.object({ kind: z.string(), name: z.string() })),
});
/** Output of `resolve_owner`, see {@link ResolveOwnerOutputSchema}. */
export type ResolveOwnerOutput = z.infer<typeof ResolveOwnerOutputSchema>;
