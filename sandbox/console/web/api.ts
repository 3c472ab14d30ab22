/// <reference lib="dom" />
/** The console's talk to its server: JSON fetches and the two agents' names. */

/** The two agents the console shows side by side. */
export type AgentName = "naive" | "backstop";
/** Both agents, in column order. */
export const AGENTS: AgentName[] = ["naive", "backstop"];

/** Fetches JSON; throws an Error carrying the server's `{ error }` message on a non-2xx answer. */
export async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, init);
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const msg =
      typeof body === "object" && body !== null && "error" in body
        ? String(body.error)
        : `HTTP ${res.status}`;
    throw new Error(msg);
  }
  return body as T;
}
