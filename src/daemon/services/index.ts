import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { DaemonConfig } from '../../config/index.js';
import type { Logger } from '../../shared/index.js';
import type { AuditLog } from '../../audit/index.js';
import type { SandboxService } from './sandboxes.js';
import type { SandboxHook } from './hooks.js';
import type { RuntimePort } from './runtime-port.js';
import type { PolicyService } from './policy.js';
import type { CredentialsService } from './credentials.js';
import type { EgressService } from './egress.js';
import type { LlmProxyHook } from './llm-proxy.js';
import type { GitGateService } from './git-gate.js';
import type { PacksService } from './packs.js';
import type { ProposalsService } from './proposals.js';
import type { DevcontainerService } from './devcontainer.js';
import type { CompanionsService } from './companions.js';
import type { EngineService } from './engine.js';
import type { SshGatewayHook } from './ssh-gateway.js';
import type { TaskService } from './tasks.js';
import type { WarmPool } from './warm-pool.js';
import type { SessionApi } from '../../sessions/index.js';

/**
 * Every service of the daemon, by name, built once by the composition root (src/daemon/compose.ts) — no lookups,
 * no module-level singletons. A route takes what it needs from here. A new layer is one field here, one line in
 * compose.ts, and its hook in the ordered `hooks`.
 */
export interface DaemonServices {
  version: string;
  config: DaemonConfig;
  logger: Logger;
  httpLogger: FastifyBaseLogger;
  startedAt: Date;
  runtime: RuntimePort;
  /** The daemon's one audit log (refusals, decisions, layer events). */
  audit: AuditLog;
  /** Secret backend: read by the LLM proxy and git gate, administered through /v1/secrets. */
  credentials: CredentialsService;
  policy: PolicyService;
  egress: EgressService;
  llm: LlmProxyHook;
  git: GitGateService;
  packs: PacksService;
  /** Companion services of aibox/services.yaml (absent in hand-made test apps). */
  companions?: CompanionsService | undefined;
  /** The container engine of sandboxes the containers door allows (absent in hand-made test apps). */
  engine?: EngineService | undefined;
  /** The project's devcontainer.json as a layer (absent in hand-made test apps). */
  devcontainer?: DevcontainerService | undefined;
  /** Agent-proposed policy changes and learn mode (absent in hand-made test apps). */
  proposals?: ProposalsService | undefined;
  ssh: SshGatewayHook;
  sandboxes: SandboxService;
  /** Pre-started sandboxes without a host folder, claimed by workspace-less creates. */
  pool: WarmPool;
  tasks: TaskService;
  /** Sessions for programs, API tokens and their metrics (always built by compose.ts; absent in hand-made test apps). */
  sessionApi?: SessionApi | undefined;
  /** The sandbox lifecycle layers in start order (stop: reverse), derived from the services above. */
  hooks: readonly SandboxHook[];
}

/** Identifies this daemon's containers (several daemons with different state dirs can share a host). */
export function daemonIdOf(stateDir: string): string {
  return createHash('sha256').update(stateDir).digest('hex').slice(0, 12);
}

export { SandboxService, type SandboxExecOptions } from './sandboxes.js';
export type {
  HookDeps,
  SandboxHook,
  SandboxHookContext,
  SandboxContribution,
  RunningSandbox,
} from './hooks.js';
export type { RuntimePort } from './runtime-port.js';
