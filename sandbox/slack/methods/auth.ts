import type { MethodTable } from "./table.js";

/** `auth.*`: `auth.test` names the bot (https://docs.slack.dev/reference/methods/auth.test). */
export const authMethods: MethodTable = {
  "auth.test": (s) => ({
    url: "https://backstop-sandbox.slack.com/",
    team: "Backstop Sandbox",
    user: "backstop",
    team_id: s.teamId,
    user_id: s.botUserId,
    bot_id: s.botId,
    is_enterprise_install: false,
  }),
};
