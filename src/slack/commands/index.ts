import type { AckFn, App, RespondArguments, RespondFn, SlashCommand } from "@slack/bolt";
import type { KnownBlock } from "@slack/types";
import type { WebClient } from "@slack/web-api";
import {
  alertJoinedReply,
  errorMessage as errorReply,
  helpMessage,
  INCIDENT_STATUSES,
  type IncidentStatus,
  type IncidentView,
  USAGE as SUBCOMMAND_USAGE,
  statusMessage,
} from "../../../blocks/index.js";
import { type ClusterTarget, parseClusterTargetRef } from "../../contracts/cluster.js";
import { errorMessage, isBackstopError } from "../../errors.js";
import { workloadKey } from "../../pipeline/target.js";
import { admitRun } from "../../queue/admit.js";
import { incidentKeyForCommand, type RunJobData, runIdFor } from "../../queue/jobs.js";
import type { IncidentRecord } from "../../queue/store.js";
import { clusterRoster } from "../config.js";
import type { ListenerContext } from "../context.js";
import { RunIdSchema, uploadStoredReceipt } from "../stored-receipt.js";

export { parseStoredReceipt, RunIdSchema, uploadStoredReceipt } from "../stored-receipt.js";

/**
 * The `/backstop` slash command (https://api.slack.com/interactivity/slash-commands). Every branch acks
 * within Slack's 3 seconds: the pure ones (help, errors, triage) answer in the ack body as an ephemeral
 * message; the ones that read Redis (status, receipt) ack empty first, then answer through `respond`
 * (the command's `response_url`). No branch runs the agent: triage enqueues a `triage` job.
 */

/** The slash command's name, as in `manifest.yml`. */
export const COMMAND = "/backstop";

/** The usage line shown with every error and in help (the subcommands of `blocks/help.ts`). */
export const USAGE = Object.values(SUBCOMMAND_USAGE).join(" | ");

/**
 * Longest note kept from `/backstop triage ns/name <note>` (characters). The pipeline cuts the note to
 * this AFTER it strips invisible characters and redacts it (nothing is cut before it is redacted), so
 * the command keeps the note whole.
 */
export { NOTE_MAX_CHARS as MAX_NOTE_CHARS } from "../../guardrails/untrusted.js";

/** How many incidents `/backstop status` lists. */
export const STATUS_LIMIT = 10;

/** A parsed `/backstop` invocation. */
export type BackstopCommand =
  | { sub: "help" }
  | { sub: "triage"; ref: string; note: string | null }
  | { sub: "status"; runId: string | null }
  | { sub: "receipt"; runId: string }
  | { sub: "invalid"; error: string; usage: string }
  | { sub: "unknown"; word: string };

/**
 * Splits the command text (`SlashCommand.text`) into a subcommand and its arguments. Pure; never
 * throws. An empty text is `help`; a subcommand word is case-insensitive; a run id is checked with
 * {@link RunIdSchema}; a note is kept whole (the pipeline redacts it, then cuts it to `MAX_NOTE_CHARS`).
 */
export function parseCommandText(text: string): BackstopCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const sub = (words[0] ?? "help").toLowerCase();
  const args = words.slice(1);
  switch (sub) {
    case "help":
      return { sub: "help" };
    case "triage": {
      const ref = args[0];
      if (!ref)
        return {
          sub: "invalid",
          error: "triage needs a workload",
          usage: SUBCOMMAND_USAGE.triage,
        };
      const note = args.slice(1).join(" ");
      return { sub: "triage", ref, note: note.length > 0 ? note : null };
    }
    case "status":
    case "receipt": {
      const run = args[0];
      const usage = sub === "status" ? SUBCOMMAND_USAGE.status : SUBCOMMAND_USAGE.receipt;
      if (!run)
        return sub === "status"
          ? { sub, runId: null }
          : { sub: "invalid", error: "receipt needs a run id", usage };
      const parsed = RunIdSchema.safeParse(run);
      if (!parsed.success)
        return {
          sub: "invalid",
          error: `"${run}" is not a run id: ${parsed.error.issues[0]?.message}`,
          usage,
        };
      return { sub, runId: parsed.data };
    }
    default:
      return { sub: "unknown", word: sub };
  }
}

/** An `IncidentRecord` (Redis) as the `IncidentView` the Block Kit builders render. */
export function incidentView(r: IncidentRecord): IncidentView {
  const status = (INCIDENT_STATUSES as readonly string[]).includes(r.status)
    ? (r.status as IncidentStatus)
    : "queued";
  return {
    runId: r.runId,
    cluster: r.cluster ?? null,
    alertname: r.alertname,
    severity: r.severity,
    namespace: r.namespace,
    workload: r.workload,
    trigger: r.trigger,
    requestedBy: r.requestedBy,
    status,
    stage: r.stage,
    summary: r.summary,
    startedAt: r.startedAt,
    resolvedByAlertmanager: r.resolvedAt !== null,
  };
}

/** An ephemeral message (only the caller sees it) for an ack body or `respond`. */
function ephemeral(m: { text: string; blocks?: KnownBlock[] }): RespondArguments {
  return m.blocks
    ? { response_type: "ephemeral", text: m.text, blocks: m.blocks }
    : { response_type: "ephemeral", text: m.text };
}

async function triage(
  ctx: ListenerContext,
  command: SlashCommand,
  cmd: { ref: string; note: string | null },
  ack: AckFn<string | RespondArguments>,
  respond: RespondFn,
  client: WebClient,
): Promise<void> {
  let ref: ClusterTarget;
  try {
    ref = parseClusterTargetRef(cmd.ref, clusterRoster(ctx.settings));
  } catch (err) {
    const why = isBackstopError(err) ? err.message : errorMessage(err);
    await ack(ephemeral(errorReply(why, SUBCOMMAND_USAGE.triage)));
    return;
  }
  const target = { namespace: ref.namespace, workload: ref.workload };
  const incidentKey = incidentKeyForCommand(ref.cluster, target.namespace, target.workload, ctx.newNonce());
  const runId = runIdFor(incidentKey);
  await ack({
    response_type: "ephemeral",
    text: `Queued triage of ${target.namespace}/${target.workload} in cluster ${ref.cluster} (run ${runId}). Updates follow in a thread here.`,
  });
  const data: RunJobData = {
    runId,
    cluster: ref.cluster,
    trigger: "command",
    incidentKey,
    target,
    onset: ctx.clock().toISOString(),
    alert: null,
    note: cmd.note,
    requestedBy: command.user_id,
    slack: { channel: command.channel_id, responseUrl: command.response_url || null },
  };
  try {
    const admitted = await admitRun(data, { store: ctx.store, producer: ctx.producer });
    if (admitted.status === "joined") {
      // One run per workload: this request joins the active run instead of starting a second one.
      ctx.log.info({ runId, holder: admitted.holder, user: command.user_id }, "triage joined an active run");
      await respond(
        ephemeral({
          text: `A run is already active for ${target.namespace}/${target.workload} in cluster ${ref.cluster} (run ${admitted.holderRunId}); this request joined it, no second run was started.`,
        }),
      );
      if (admitted.first) {
        const thread = await ctx.store.getThread(admitted.holder);
        await client.chat
          .postMessage({
            channel: thread?.channel ?? command.channel_id,
            ...(thread ? { thread_ts: thread.ts } : {}),
            ...alertJoinedReply({
              alertname: `/backstop triage by <@${command.user_id}>`,
              what: `${workloadKey(target)} in ${ref.cluster}`,
              runId: admitted.holderRunId,
            }),
          })
          .catch((err) => ctx.log.warn({ err }, "could not post a join note"));
      }
      return;
    }
    ctx.log.info({ runId, incidentKey, user: command.user_id }, "triage queued from /backstop");
  } catch (err) {
    ctx.log.error({ runId, err }, "cannot queue a triage");
    await respond(
      ephemeral(errorReply(`Could not queue the triage of ${cmd.ref}: ${errorMessage(err)}. Try again.`)),
    );
  }
}

async function status(ctx: ListenerContext, runId: string | null, respond: RespondFn): Promise<void> {
  if (runId) {
    const incident = await ctx.store.getIncidentByRun(runId);
    await respond(
      ephemeral(
        incident
          ? statusMessage([incidentView(incident)])
          : errorReply(`No run ${runId} is known.`, SUBCOMMAND_USAGE.status),
      ),
    );
    return;
  }
  const recent = await ctx.store.recentIncidents(STATUS_LIMIT);
  await respond(ephemeral(statusMessage(recent.map(incidentView))));
}

/**
 * Registers `/backstop` on `app` (bolt-ts-starter-template: `listeners/commands/index.ts`).
 * Subcommands: `triage <namespace>/<workload> [note]`, `status [run]`, `receipt <run>`, `help`;
 * anything else gets the help with "unknown subcommand".
 */
export function register(app: App, ctx: ListenerContext): void {
  app.command(COMMAND, async ({ command, ack, respond, client }) => {
    const cmd = parseCommandText(command.text ?? "");
    switch (cmd.sub) {
      case "help":
        await ack(ephemeral(helpMessage()));
        return;
      case "unknown": {
        const help = helpMessage();
        await ack(
          ephemeral({
            text: `Unknown subcommand "${cmd.word}". ${help.text}`,
            blocks: [...errorReply(`Unknown subcommand "${cmd.word}".`, USAGE).blocks, ...help.blocks],
          }),
        );
        return;
      }
      case "invalid":
        await ack(ephemeral(errorReply(cmd.error, cmd.usage)));
        return;
      case "triage":
        await triage(ctx, command, cmd, ack, respond, client);
        return;
      case "status":
        await ack();
        try {
          await status(ctx, cmd.runId, respond);
        } catch (err) {
          ctx.log.error({ err }, "/backstop status failed");
          await respond(ephemeral(errorReply(`Could not read the incidents: ${errorMessage(err)}`)));
        }
        return;
      case "receipt":
        await ack();
        try {
          const r = await uploadStoredReceipt(ctx, client, cmd.runId, {
            channel: command.channel_id,
            threadTs: null,
          });
          await respond(ephemeral(r.ok ? { text: r.text } : errorReply(r.text, SUBCOMMAND_USAGE.receipt)));
        } catch (err) {
          ctx.log.error({ runId: cmd.runId, err }, "/backstop receipt failed");
          await respond(ephemeral(errorReply(`Could not upload the receipt: ${errorMessage(err)}`)));
        }
        return;
    }
  });
}
