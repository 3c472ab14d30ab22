import { ApiException } from "@kubernetes/client-node";
import { loadWorld } from "../fixtures/worlds.js";

const checkout = loadWorld("cluster").cluster.workloads.find((w) => w.name === "checkout")?.history ?? [];

/** The shas of shop/checkout in the `cluster` test world (test/fixtures/worlds/cluster.yaml), oldest first. */
export const SHA = {
  older: checkout[0]?.sha ?? "",
  good: checkout[1]?.sha ?? "",
  bad: checkout[2]?.sha ?? "",
};

/** Runs `fn` and returns the client-node ApiException it throws (fails the test if it does not). */
export async function apiError(fn: () => Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiException) return err;
    throw err;
  }
  throw new Error("expected an ApiException");
}

/** The parsed `Status` body of an ApiException (client-node 1.x keeps the raw text). */
export function statusBody(err: ApiException<unknown>): Record<string, unknown> {
  return typeof err.body === "string"
    ? (JSON.parse(err.body) as Record<string, unknown>)
    : (err.body as Record<string, unknown>);
}
