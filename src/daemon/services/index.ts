import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { DaemonConfig } from '../../config/index.js';
import type { SandboxRuntime } from '../../runtime/index.js';
import type { Logger } from '../../shared/index.js';
import type { SandboxService } from './sandboxes.js';
import type { SandboxHook } from './hooks.js';
import type { AuditLog } from '../../audit/index.js';

/**
 * Everything routes need, built once per daemon by `startDaemon` (server.ts) — no module-level singletons.
 * Each enforcement layer adds its service here (one field) and its hook to `hooks`.
 */
export interface DaemonServices {
  version: string;
  config: DaemonConfig;
  logger: Logger;
  httpLogger: FastifyBaseLogger;
  startedAt: Date;
  runtime: SandboxRuntime;
  sandboxes: SandboxService;
  hooks: SandboxHook[];
  /** The daemon's one audit log (refusals, decisions, layer events). */
  audit: AuditLog;
}

/** Identifies this daemon's containers (several daemons with different state dirs can share a host). */
export function daemonIdOf(stateDir: string): string {
  return createHash('sha256').update(stateDir).digest('hex').slice(0, 12);
}

export { SandboxService, type SandboxExecOptions } from './sandboxes.js';
export type { SandboxHook, SandboxHookContext, SandboxContribution, RunningSandbox } from './hooks.js';
