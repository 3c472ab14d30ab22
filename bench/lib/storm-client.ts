/**
 * The alert storm's client, forked by `bench/alert-storm.ts`: the stand-in for Alertmanager, in its
 * own process as Alertmanager is, so the client's own work (undici, building requests, reading
 * answers) is not done on the bot's event loop nor counted in the bot's CPU.
 *
 * IPC: the parent sends `{type: "storm", url, token, scenario, notifications, groups, concurrency,
 * warmup}`; the client builds and encodes every body, warms the route up with `warmup` `resolved`
 * notifications for a group that never fired (no run), sends `{type: "start"}`, posts the
 * notifications `concurrency` at a time, then sends `{type: "done", latencies (ms, one per
 * notification), errors ([status, count][]), seconds}` and exits.
 */
import { Pool } from "undici";
import type { Scenario } from "../../scenarios/schema.js";
import { groupNotification } from "./fleet.js";

/** What the parent asks for. */
export interface StormRequest {
  type: "storm";
  url: string;
  token: string;
  scenario: Scenario;
  notifications: number;
  groups: number;
  concurrency: number;
  /** Warm-up requests before the clock starts. */
  warmup: number;
}

/** What the client reports when the storm is over. */
export interface StormDone {
  type: "done";
  latencies: number[];
  errors: [number, number][];
  seconds: number;
}

async function storm(req: StormRequest): Promise<StormDone> {
  const { notifications, groups, concurrency } = req;
  const pool = new Pool(req.url, { connections: concurrency, pipelining: 1 });
  const post = async (body: Buffer): Promise<number> => {
    const res = await pool.request({
      path: "/alerts/alertmanager",
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${req.token}` },
      body,
    });
    await res.body.dump();
    return res.statusCode;
  };
  // Bodies are built and encoded before the clock starts: the storm measures the bot, not the
  // client's JSON.stringify or its string-to-bytes copy.
  const bodies = Array.from({ length: notifications }, (_, i) =>
    Buffer.from(JSON.stringify(groupNotification(req.scenario, i % groups, Math.floor(i / groups)))),
  );
  // Warm-up (connections, and V8's optimizing compiler, which needs a few thousand requests over the
  // route: after 256 the first second of the storm ran at 3-5x the later latency): resolved
  // notifications for a group that never fired make no run.
  const warm = groupNotification(req.scenario, groups + 1, 0);
  const warmBody = Buffer.from(
    JSON.stringify({
      ...warm,
      status: "resolved",
      alerts: warm.alerts.map((a) => ({ ...a, status: "resolved" })),
    }),
  );
  let warmed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (warmed++ < req.warmup) await post(warmBody);
    }),
  );
  const latencies: number[] = [];
  const errors = new Map<number, number>();
  let next = 0;
  process.send?.({ type: "start" });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= notifications) return;
        const s = performance.now();
        const status = await post(bodies[i] as Buffer);
        latencies.push(performance.now() - s);
        if (status >= 300) errors.set(status, (errors.get(status) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return { type: "done", latencies, errors: [...errors], seconds };
}

if (!process.send) {
  console.error("storm-client: run by bench/alert-storm.ts (needs an IPC channel)");
  process.exit(2);
}
process.once("message", (m: StormRequest) => {
  storm(m).then(
    (done) => process.send?.(done, () => process.exit(0)),
    (err: Error) => {
      console.error(`storm-client: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
});
