import { z } from "zod";
import { parseArgs } from "../args.js";
import type { MethodTable } from "./table.js";

const ChannelArgs = z.object({ channel: z.string().min(1) });

/**
 * `conversations.*`: `conversations.info` (https://docs.slack.dev/reference/methods/conversations.info)
 * for a configured channel or any well-formed ID; the bot is always a member.
 */
export const conversationsMethods: MethodTable = {
  "conversations.info": (s, raw) => {
    const a = parseArgs(ChannelArgs, raw);
    const ch = s.resolveChannel(a.channel);
    return {
      channel: {
        id: ch.id,
        name: ch.name,
        is_channel: ch.id.startsWith("C"),
        is_group: ch.id.startsWith("G"),
        is_im: ch.id.startsWith("D"),
        is_private: ch.is_private ?? false,
        is_archived: false,
        is_member: true,
        created: 1_700_000_000,
        creator: s.botUserId,
        context_team_id: s.teamId,
      },
    };
  },
};
