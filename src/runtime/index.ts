export { SandboxRuntime, type ManagedContainer } from './sandbox-runtime.js';
export { runtimeErrors } from './errors.js';
export { LABELS, daemonIdFor } from './labels.js';
export type { ContainerExit } from './exit-watcher.js';
export { probeHostPath, identityOf, isDirectory, HostPathError, type HostPathInfo } from './host-path.js';
export {
  containerSpec,
  pinnedParents,
  type SandboxSpec,
  type Mount,
  SANDBOX_HOME,
  EXEC_HELPER_PATH,
  AGENT_PATH,
  AGENT_DIR,
} from './container-spec.js';
export type { ExecOptions, ExecSession, ExecExit, ProcessInfo, BufferedResult } from './exec.js';
export type { BuildProgress } from './base-image.js';
export { BASE_PACKAGES } from './base-image.js';
export { descendantsOf } from './limits.js';
