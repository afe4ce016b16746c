export * from './errors.js';
export * from './config.js';
export * from './policy.js';
export * from './credentials.js';
export * from './audit.js';
export { GitRunner, GitCommandError, redact } from './exec.js';
export { MirrorStore } from './mirror.js';
export { Notifier, Notification, type NotificationInput, type CommandRunner } from './notify.js';
export { PushStore, PushRecord, PushState } from './push-store.js';
export {
  PushGate,
  ZERO_SHA,
  type PushShow,
  type PushContext,
  type RefUpdate,
  type RefVerdict,
} from './pushes.js';
export {
  GitGateway,
  gatewayAuthConfig,
  newGatewayKey,
  type GatewaySandbox,
  type GatewayListener,
} from './gateway.js';
export { createGitGate, type GitGate, type GitGateDeps } from './gate.js';
export { slugify } from './worktrees/slug.js';
export { worktreeMounts, worktreeMountSources, type Mount, type WorktreeLayout } from './worktrees/mounts.js';
export { TaskManager, TaskRecord } from './worktrees/tasks.js';
export { ListenerPorts } from './listener-ports.js';
export { protectGitMetadata } from './metadata.js';
