export { companionErrors } from './errors.js';
export {
  MAX_SERVICES,
  RESERVED_PORTS,
  SERVICES_FILE,
  SERVICES_MAX_BYTES,
  parseServices,
  type CompanionService,
  type ServiceLimits,
  type ServiceSpec,
} from './spec.js';
export {
  LINK_RANGE,
  MAX_LINKS,
  companionTableName,
  linkPlan,
  renderCompanionNftables,
  type LinkPlan,
} from './network.js';
export { readServicesFile } from './read.js';
export { hostLinker, type CompanionLinker } from './link.js';
export { linkProblem, type IpInterface } from './link-check.js';
export {
  DEFAULT_RESTART_LIMITS,
  decideRestart,
  type RestartDecision,
  type RestartLimits,
  type RestartMode,
  type ServiceExit,
} from './restart-policy.js';
export {
  Supervisor,
  realTimers,
  type HealthEvent,
  type ServiceHealth,
  type ServiceState,
  type Supervised,
  type SupervisorTimers,
} from './supervisor.js';
export { CompanionsConfig } from './config.js';
