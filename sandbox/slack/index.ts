/** The sandbox Slack: a loopback Web API for the bot, and a helper that sends it signed requests as Slack does. */
export {
  type RecordedCall,
  type RecordedMessage,
  type ResponseUrlContext,
  type SandboxChannel,
  type SandboxFile,
  type SandboxSlack,
  type SandboxSlackOptions,
  startSandboxSlack,
} from "./server.js";
export {
  type SendOptions,
  type SendResult,
  sendBlockAction,
  sendEvent,
  sendSlashCommand,
  signSlackRequest,
} from "./signing.js";
