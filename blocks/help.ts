import { code, context, header, message, type SlackMessage, safe, section } from "./text.js";

/** The usage line of each `/backstop` subcommand, as shown in help and error messages. */
export const USAGE = {
  triage: "/backstop triage [<cluster>/]<namespace>/<workload> [note]",
  status: "/backstop status [run]",
  receipt: "/backstop receipt <run>",
  help: "/backstop help",
} as const;

/** The `/backstop help` answer (ephemeral): each subcommand with what it does, and who may approve. */
export function helpMessage(): SlackMessage {
  const lines = [
    `${code(USAGE.triage)}\nTriage a workload now: read-only signals, a model diagnosis, gates; acts only when it is grounded, scoped and safe.`,
    `${code(USAGE.status)}\nRuns in flight, or one run's status.`,
    `${code(USAGE.receipt)}\nUpload a run's signed receipt (JSON) into its thread.`,
    `${code(USAGE.help)}\nThis message.`,
  ];
  return message(
    `Backstop commands: ${Object.values(USAGE).join(", ")}`.replace(/</g, "&lt;").replace(/>/g, "&gt;"),
    [
      header("Backstop"),
      section(lines.join("\n\n")),
      context(
        "Alerts from Alertmanager start runs by themselves. Escalations carry Approve/Reject buttons; only configured approvers can decide.",
      ),
    ],
  );
}

/**
 * An ephemeral error: what went wrong (`text`, escaped) and, when given, what was expected (`usage`,
 * e.g. {@link USAGE}.triage), with a pointer to `/backstop help`.
 */
export function errorMessage(text: string, usage?: string): SlackMessage {
  const lines = [`:warning: ${safe(text, 2000)}`];
  if (usage) lines.push(`Expected: ${code(usage.slice(0, 500))}`);
  return message(`${safe(text, 1000)}${usage ? ` Expected: ${safe(usage, 500)}` : ""}`, [
    section(lines.join("\n")),
    context("Try `/backstop help` for every command."),
  ]);
}
