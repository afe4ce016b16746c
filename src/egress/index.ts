export { egressErrors } from './errors.js';
export {
  EgressPolicy,
  AllowRule,
  TcpRule,
  UpstreamProxy,
  HostExemption,
  HostPattern,
  checkHostPattern,
  parseAllowShorthand,
  parseTcpShorthand,
  type EgressPolicyInput,
} from './policy.js';
export { EgressConfig, type EgressConfigInput } from './config.js';
export { buildEgressPolicy } from './project-policy.js';
export { HostAllowlist, allowedNames } from './match.js';
export type { EgressDecision, DecisionSink } from './decisions.js';
export { parseSquidLogLine } from './decisions.js';
export { AllowlistResolver, type Endpoint } from './dns-server.js';
export { renderNftables, nftTableName, type NftRulesetInput } from './render-nftables.js';
export { renderSquidConf, renderErrorPages, DENY_REASONS } from './render-squid.js';
export { renderCorefile } from './render-corefile.js';
export { NftApplier, SquidProcess, canConnect, checkRuleset, type NetnsTarget } from './apply.js';
export { SquidLogTail } from './squid-log.js';
export { CredentialBinding, newPlaceholder, PLACEHOLDER_PREFIX } from './credentials.js';
export {
  EgressManager,
  freePort,
  hostNets,
  type CredentialValues,
  type GatewayEndpoint,
  type SandboxEgressState,
} from './enforcer.js';
export {
  runSelftest,
  Canary,
  type SelftestReport,
  type SelftestCheck,
  type SandboxExec,
} from './selftest.js';
export { systemResolvers } from './resolv-conf.js';
export { PortReservations, listenerHeldBy, withChildren } from './ports.js';
