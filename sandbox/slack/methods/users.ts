import { z } from "zod";
import { apiError, parseArgs, zBool } from "../args.js";
import type { MethodTable } from "./table.js";

const UserArgs = z.object({ user: z.string().min(1) });
const UsergroupArgs = z.object({ usergroup: z.string().min(1), include_disabled: zBool.optional() });

/**
 * `users.*` and `usergroups.*`: `users.info` (https://docs.slack.dev/reference/methods/users.info; unknown
 * → `user_not_found`) and `usergroups.users.list` (https://docs.slack.dev/reference/methods/usergroups.users.list;
 * unknown group → `no_such_subteam`).
 */
export const usersMethods: MethodTable = {
  "users.info": (s, raw) => {
    const a = parseArgs(UserArgs, raw);
    const u = s.users.find((x) => x.id === a.user);
    if (!u) throw apiError("user_not_found");
    return {
      user: {
        id: u.id,
        team_id: s.teamId,
        name: u.name,
        deleted: false,
        real_name: u.real_name,
        tz: "Etc/UTC",
        is_admin: false,
        is_owner: false,
        is_bot: u.is_bot,
        is_app_user: false,
        profile: { display_name: u.name, real_name: u.real_name, team: s.teamId },
      },
    };
  },
  "usergroups.users.list": (s, raw) => {
    const a = parseArgs(UsergroupArgs, raw);
    const members = s.usergroups[a.usergroup];
    if (!members) throw apiError("no_such_subteam");
    return { users: [...members] };
  },
};
