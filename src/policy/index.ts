// Layered policy (org -> team -> project): doors, tighten-only composition, decisions and explain.
// Pure except loader.ts (reads the policy repo and project files) and watcher.ts (watches them).
export { PolicyStore } from './store.js';
export type {
  PolicySource,
  ProjectSource,
  DecisionSink,
  SandboxRef,
  PolicyChange,
  ChangeListener,
  PolicyStoreOptions,
} from './store.js';
export { FilePolicySource } from './loader.js';
export { PolicyWatcher, type PolicyWatcherOptions } from './watcher.js';
export { EngineBackend } from './rego-backend.js';
export { RegoLayer, type RegoBackend, type RegoProgram, type RegoSource } from './rego-layer.js';
export {
  compileRepo,
  composeSet,
  teamOf,
  type CompiledRepo,
  type PolicySet,
  type RepoSources,
  type LayerFiles,
} from './compile.js';
export { ProjectLayer, ProjectPolicy, PROJECT_POLICY_DIR, PROJECT_POLICY_FILE } from './project.js';
export { PROJECT_POLICY_MAX_BYTES } from './loader.js';
export { policyErrors } from './errors.js';
export { PolicyConfig } from './config.js';
export * from './doors/index.js';
export {
  combine,
  type LayerName,
  type LayerVerdict,
  type LayerView,
  type Location,
  type Outcome,
} from './types.js';
export { domainMatches, domainCovers, checkHostPattern, type HostPatternCheck } from './patterns.js';
