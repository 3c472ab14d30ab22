import { z } from "zod";
import { type Config, requireSlack } from "../config.js";
import { type ClusterRoster, SINGLE_CLUSTER } from "../contracts/cluster.js";
import { BackstopError, formatZodIssues } from "../errors.js";

/**
 * The Slack bot's settings. The caller builds them from `src/config.ts` (the only module that reads
 * `process.env`): `SLACK_MODE`, `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET`, `SLACK_APP_TOKEN`,
 * `SLACK_ALERT_CHANNEL`, `BACKSTOP_ALERT_TOKEN`, `BACKSTOP_APPROVERS`, `BACKSTOP_APPROVER_GROUP`.
 *
 * - `mode`: `http` serves Slack's Events API / slash commands / interactivity on `POST /slack/events`
 *   (requests signed with `signingSecret`, https://api.slack.com/authentication/verifying-requests-from-slack);
 *   `socket` uses Socket Mode (https://api.slack.com/apis/socket-mode) with the app-level token
 *   `appToken` (`xapp-…`), and a small HTTP server of its own for the Alertmanager route.
 * - `botUserId` / `botId`: given so Bolt does not call `auth.test` at start (`tokenVerificationEnabled: false`).
 * - `slackApiUrl`: the Web API base (default `https://slack.com/api/`); the sandbox's `apiUrl` in tests.
 * - `port` / `host`: where the HTTP server listens (port 0 = any free port; host default `0.0.0.0`).
 * - `alertChannel`: the channel id alert-triggered incident threads go to.
 * - `alertWebhookToken`: the bearer token Alertmanager sends (`http_config.authorization.credentials`).
 * - `approvers`: Slack user ids, and/or a user group id (`S…`) whose members may decide escalations.
 * - `approvalTimeoutMs`: ms before an escalation is rejected as expired (default 30 minutes).
 * - `guardrailToken` / `guardrailMaxBytes`: when a token is set, the bot also serves the quality gate as
 *   a gateway output guardrail on `POST /guardrails/quality` (src/guardrails/gateway-guardrail.ts).
 */
export interface SlackSettings {
  mode: "http" | "socket";
  botToken: string;
  signingSecret: string;
  appToken?: string;
  botUserId: string;
  botId: string;
  slackApiUrl?: string;
  port: number;
  host?: string;
  alertChannel: string;
  alertWebhookToken: string;
  approvers: { users: string[]; usergroup?: string };
  approvalTimeoutMs: number;
  /**
   * The clusters this Backstop serves and the alert label that names one (`BACKSTOP_CLUSTERS`,
   * `BACKSTOP_CLUSTER_NAME`, `BACKSTOP_CLUSTER_LABEL`); default one cluster named `default`, label `cluster`.
   */
  clusters?: ClusterRoster;
  guardrailToken?: string;
  guardrailMaxBytes?: number;
}

/** Default time an escalation waits for a human before it is rejected as expired: 30 minutes, in ms. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 30 * 60_000;

const SettingsSchema = z
  .object({
    mode: z.enum(["http", "socket"]),
    botToken: z.string().min(1, "SLACK_BOT_TOKEN is required"),
    signingSecret: z.string(),
    appToken: z.string().min(1).optional(),
    botUserId: z.string().min(1),
    botId: z.string().min(1),
    slackApiUrl: z.url().optional(),
    port: z.number().int().min(0).max(65_535),
    host: z.string().min(1).optional(),
    alertChannel: z.string().min(1, "SLACK_ALERT_CHANNEL is required"),
    alertWebhookToken: z.string().min(16, "BACKSTOP_ALERT_TOKEN must be at least 16 characters"),
    approvers: z.object({ users: z.array(z.string().min(1)), usergroup: z.string().min(1).optional() }),
    approvalTimeoutMs: z.number().int().positive(),
    guardrailToken: z.string().min(16, "BACKSTOP_GUARDRAIL_TOKEN must be at least 16 characters").optional(),
    guardrailMaxBytes: z.number().int().min(1024).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.mode === "socket" && !s.appToken)
      ctx.addIssue({
        code: "custom",
        path: ["appToken"],
        message: "Socket Mode needs an app-level token (SLACK_APP_TOKEN, xapp-…)",
      });
    if (s.mode === "http" && s.signingSecret.length === 0)
      ctx.addIssue({
        code: "custom",
        path: ["signingSecret"],
        message: "HTTP mode needs the signing secret (SLACK_SIGNING_SECRET)",
      });
  });

/**
 * Validates settings (zod) before the app is built.
 * @throws BackstopError `slack.config` naming every bad field (e.g. a missing `appToken` in socket mode).
 */
export function validateSlackSettings(settings: SlackSettings): SlackSettings {
  const parsed = SettingsSchema.safeParse(settings);
  if (!parsed.success) {
    throw new BackstopError("slack.config", `invalid Slack settings: ${formatZodIssues(parsed.error)}`);
  }
  return settings;
}

/** True when `user` is listed in `approvers.users` (the user-group check needs the Web API; see actions). */
export function isListedApprover(settings: Pick<SlackSettings, "approvers">, user: string): boolean {
  return settings.approvers.users.includes(user);
}

/**
 * The bot's {@link SlackSettings} from the parsed configuration (`loadConfig()` in src/config.ts),
 * with {@link DEFAULT_APPROVAL_TIMEOUT_MS} when none is configured.
 * @throws BackstopError `config.invalid` naming each missing variable (via `requireSlack`), or
 *   `slack.config` when a value is present but invalid.
 */
export function slackSettingsFromConfig(config: Config): SlackSettings {
  const s = requireSlack(config);
  return validateSlackSettings({
    mode: config.slack.mode,
    botToken: s.botToken,
    signingSecret: s.signingSecret,
    ...(s.appToken ? { appToken: s.appToken } : {}),
    botUserId: s.botUserId,
    botId: s.botId,
    ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
    port: config.slack.port,
    host: config.slack.host,
    alertChannel: s.alertChannel,
    alertWebhookToken: s.alertToken,
    approvers: {
      users: config.approvals.users,
      ...(config.approvals.usergroup ? { usergroup: config.approvals.usergroup } : {}),
    },
    approvalTimeoutMs: config.approvals.timeoutMs || DEFAULT_APPROVAL_TIMEOUT_MS,
    clusters: config.clusterRoster,
    ...(config.slack.guardrailToken
      ? { guardrailToken: config.slack.guardrailToken, guardrailMaxBytes: config.slack.guardrailMaxBytes }
      : {}),
  });
}

/** The cluster roster of `settings`, or the single `default` cluster when none is set. */
export function clusterRoster(settings: Pick<SlackSettings, "clusters">): ClusterRoster {
  return settings.clusters ?? SINGLE_CLUSTER;
}
