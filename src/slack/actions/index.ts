import type { App, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import type { WebClient } from "@slack/web-api";
import { ACTION_APPROVE, ACTION_RECEIPT, ACTION_REJECT, decisionMessage } from "../../../blocks/index.js";
import { errorMessage } from "../../errors.js";
import type { SlackSettings } from "../config.js";
import type { ListenerContext } from "../context.js";
import { RunIdSchema, uploadStoredReceipt } from "../stored-receipt.js";

/**
 * Block Kit button actions (https://api.slack.com/reference/interaction-payloads/block-actions):
 * Approve / Reject on an escalation, and Download receipt. Each acks first. Only approvers decide;
 * a decision is taken exactly once (`RunStore.decide` is atomic): the winner enqueues the `decision`
 * job and replaces the buttons with the decision; everyone else is told, ephemerally, who decided.
 */

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & { client: WebClient };

/** Where a clicked message lives: its channel, its ts, and the thread it is in (if any). */
function whereClicked(body: BlockAction): {
  channel: string | null;
  ts: string | null;
  threadTs: string | null;
} {
  const container = body.container as
    | { channel_id?: string; message_ts?: string; thread_ts?: string }
    | undefined;
  const message = body.message as { ts?: string; thread_ts?: string } | undefined;
  return {
    channel: body.channel?.id ?? container?.channel_id ?? null,
    ts: message?.ts ?? container?.message_ts ?? null,
    threadTs: message?.thread_ts ?? container?.thread_ts ?? null,
  };
}

/**
 * True when `user` may decide escalations: listed in `approvers.users`, or a member of the
 * `approvers.usergroup` user group (`usergroups.users.list`, scope `usergroups:read`). Fails closed:
 * if the group cannot be read, the answer is false.
 */
export async function isApprover(
  settings: Pick<SlackSettings, "approvers">,
  client: WebClient,
  user: string,
  log?: ListenerContext["log"],
): Promise<boolean> {
  if (settings.approvers.users.includes(user)) return true;
  const group = settings.approvers.usergroup;
  if (!group) return false;
  try {
    const res = await client.usergroups.users.list({ usergroup: group });
    return (res.users ?? []).includes(user);
  } catch (err) {
    log?.warn({ usergroup: group, err }, "cannot read the approver user group; refusing");
    return false;
  }
}

/** The approvers as Slack mentions, for refusals. */
function approverList(settings: Pick<SlackSettings, "approvers">): string {
  const parts = settings.approvers.users.map((u) => `<@${u}>`);
  if (settings.approvers.usergroup) parts.push(`<!subteam^${settings.approvers.usergroup}>`);
  return parts.length > 0 ? parts.join(", ") : "nobody is configured";
}

async function tellUser(
  client: WebClient,
  at: { channel: string | null; threadTs: string | null },
  user: string,
  text: string,
): Promise<void> {
  if (!at.channel) return;
  await client.chat.postEphemeral({
    channel: at.channel,
    user,
    text,
    ...(at.threadTs ? { thread_ts: at.threadTs } : {}),
  });
}

/**
 * Handles Approve (`approved`) or Reject (`rejected`) on run `action.value`: refuse non-approvers;
 * `store.decide` once; the winner enqueues a `decision` job and updates the escalation message with
 * `decisionMessage`; a loser is told who decided first. Exported for tests.
 */
export async function handleDecision(
  ctx: ListenerContext,
  decision: "approved" | "rejected",
  args: Pick<ButtonArgs, "body" | "action" | "client">,
): Promise<"refused" | "invalid" | "missing" | "lost" | "won"> {
  const { body, action, client } = args;
  const user = body.user.id;
  const where = whereClicked(body);
  const parsed = RunIdSchema.safeParse(action.value ?? "");
  if (!parsed.success) {
    await tellUser(client, where, user, "This button does not name a run; nothing was decided.");
    return "invalid";
  }
  const runId = parsed.data;
  if (!(await isApprover(ctx.settings, client, user, ctx.log))) {
    ctx.log.warn({ runId, user, decision }, "decision refused: not an approver");
    await tellUser(
      client,
      where,
      user,
      `Only approvers may approve or reject Backstop actions (${approverList(ctx.settings)}). Nothing was changed.`,
    );
    return "refused";
  }
  const pending = await ctx.store.getPending(runId);
  if (!pending) {
    await tellUser(client, where, user, `No decision is pending for ${runId}; nothing was changed.`);
    return "missing";
  }
  const at = ctx.clock().toISOString();
  const outcome = await ctx.store.decide(runId, decision, user, at);
  if (!outcome.won) {
    const by = outcome.by ? ` by <@${outcome.by}>` : "";
    await tellUser(
      client,
      where,
      user,
      `${runId} was already decided (${outcome.status})${by}. Nothing was changed.`,
    );
    return "lost";
  }
  ctx.log.info({ runId, user, decision, at }, "escalation decided");
  try {
    await ctx.producer.enqueueDecision({ runId, decision, by: user, at });
  } catch (err) {
    ctx.log.error({ runId, err }, "decision recorded but not queued");
    await tellUser(
      client,
      where,
      user,
      `Your decision was recorded but could not be queued: ${errorMessage(err)}`,
    );
  }
  const channel = where.channel ?? pending.channel;
  const ts = where.ts ?? pending.escalationTs ?? null;
  if (channel && ts) {
    try {
      await client.chat.update({
        channel,
        ts,
        ...decisionMessage({
          runId,
          decision,
          by: user,
          at,
          proposedAction: pending.pending.proposedAction,
        }),
      });
    } catch (err) {
      ctx.log.warn({ runId, err }, "cannot replace the escalation buttons");
    }
  }
  return "won";
}

/** Handles Download receipt: uploads run `action.value`'s stored receipt into the thread it was clicked in. */
export async function handleReceipt(
  ctx: ListenerContext,
  args: Pick<ButtonArgs, "body" | "action" | "client">,
): Promise<boolean> {
  const { body, action, client } = args;
  const where = whereClicked(body);
  const parsed = RunIdSchema.safeParse(action.value ?? "");
  if (!parsed.success) {
    await tellUser(client, where, body.user.id, "This button does not name a run.");
    return false;
  }
  const r = await uploadStoredReceipt(ctx, client, parsed.data, {
    channel: where.channel ?? ctx.settings.alertChannel,
    threadTs: where.threadTs ?? where.ts,
  });
  if (!r.ok) await tellUser(client, where, body.user.id, r.text);
  return r.ok;
}

/** Registers the button actions on `app` (bolt-ts-starter-template: `listeners/actions/index.ts`). */
export function register(app: App, ctx: ListenerContext): void {
  const guard =
    (what: string, fn: (args: ButtonArgs) => Promise<unknown>) =>
    async (args: ButtonArgs): Promise<void> => {
      await args.ack();
      try {
        await fn(args);
      } catch (err) {
        ctx.log.error({ action: what, err }, "action failed");
        await tellUser(
          args.client,
          whereClicked(args.body),
          args.body.user.id,
          `Backstop could not do that: ${errorMessage(err)}`,
        ).catch(() => {});
      }
    };
  app.action<BlockAction<ButtonAction>>(
    { type: "block_actions", action_id: ACTION_APPROVE },
    guard(ACTION_APPROVE, (a) => handleDecision(ctx, "approved", a)),
  );
  app.action<BlockAction<ButtonAction>>(
    { type: "block_actions", action_id: ACTION_REJECT },
    guard(ACTION_REJECT, (a) => handleDecision(ctx, "rejected", a)),
  );
  app.action<BlockAction<ButtonAction>>(
    { type: "block_actions", action_id: ACTION_RECEIPT },
    guard(ACTION_RECEIPT, (a) => handleReceipt(ctx, a)),
  );
}
