export {
  McpGateway,
  MCP_DENIED,
  newGatewayKey,
  type McpGatewayDeps,
  type ServerProcess,
  type ToolDecision,
} from './gateway.js';
export { redactArguments } from './redact.js';
export { relayLauncher, refusingLauncher } from './relay.js';
