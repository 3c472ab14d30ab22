/** The sandbox Slack: a loopback Web API for the bot, and a helper that sends it signed requests as Slack does. */
export { startSandboxSlack } from "./server.js";
export {
  type SendOptions,
  type SendResult,
  sendBlockAction,
  sendEvent,
  sendSlashCommand,
  signSlackRequest,
} from "./signing.js";
export type {
  RecordedCall,
  RecordedMessage,
  ResponseUrlContext,
  SandboxChannel,
  SandboxFile,
  SandboxSlack,
  SandboxSlackOptions,
} from "./types.js";
