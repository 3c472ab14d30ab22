import { authMethods } from "./auth.js";
import { chatMethods } from "./chat.js";
import { conversationsMethods } from "./conversations.js";
import { filesMethods } from "./files.js";
import type { MethodTable } from "./table.js";
import { usersMethods } from "./users.js";

export { receiveUpload } from "./files.js";
export type { MethodHandler, MethodTable } from "./table.js";

/**
 * Every Web API method the sandbox Slack answers, by name: `auth.test`; `chat.postMessage`,
 * `chat.update`, `chat.postEphemeral`; `conversations.info`; `files.getUploadURLExternal`,
 * `files.completeUploadExternal`; `users.info`, `usergroups.users.list`. Anything else is `unknown_method`.
 */
export const METHODS: MethodTable = {
  ...authMethods,
  ...chatMethods,
  ...conversationsMethods,
  ...filesMethods,
  ...usersMethods,
};
