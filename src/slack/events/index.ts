import type { App } from "@slack/bolt";
import { helpMessage } from "../../../blocks/index.js";
import type { ListenerContext } from "../context.js";

/**
 * Events API listeners (https://api.slack.com/events): `app_mention` (scope `app_mentions:read`) gets
 * the help as a reply in the mention's thread. Nothing here starts a run.
 */
export function register(app: App, ctx: ListenerContext): void {
  app.event("app_mention", async ({ event, say }) => {
    try {
      await say({ ...helpMessage(), thread_ts: event.thread_ts ?? event.ts });
    } catch (err) {
      ctx.log.warn({ err }, "cannot answer an app_mention");
    }
  });
}
