/** The sandbox model provider: see `./provider.ts`. */
export {
  formatReply,
  type LoggedModelRequest,
  type SandboxModelProvider,
  type SandboxModelProviderOptions,
  startSandboxModelProvider,
} from "./provider.js";
