import type { SlackState } from "../state.js";

/**
 * One Web API method: takes the sandbox state and the call's arguments (the `token` removed; form values
 * as strings, JSON values as sent) and returns the fields answered beside `ok: true`.
 * @throws apiError (see `../args.ts`) for an `{ ok: false, error }` answer.
 */
export type MethodHandler = (state: SlackState, args: Record<string, unknown>) => Record<string, unknown>;

/** A family's methods by their Web API name (`"chat.postMessage"`). */
export type MethodTable = Readonly<Record<string, MethodHandler>>;
