import {
  createSessionMetrics,
  SessionService,
  type SessionApi,
  type SessionBackend,
  type SessionsConfig,
} from '../../sessions/index.js';
import { TokenStore } from '../../tokens/index.js';
import type { Logger } from '../../shared/index.js';
import type { PolicyService } from './policy.js';
import type { RuntimePort } from './runtime-port.js';
import type { SandboxService } from './sandboxes.js';
import type { WarmPool } from './warm-pool.js';

/**
 * Builds the session API over the daemon's services: sessions are workspace-less sandboxes of the sandbox service
 * (claimed from the warm pool when one is ready), commands pass the policy exec door, and files go to the
 * sandbox's workspace tmpfs through WorkspaceFs.
 */
export async function createSessionApi(services: {
  config: SessionsConfig;
  stateDir: string;
  logger: Logger;
  sandboxes: SandboxService;
  policy: PolicyService;
  runtime: RuntimePort;
  pool: WarmPool;
}): Promise<SessionApi> {
  const config = services.config;
  const tokens = await TokenStore.open(services.stateDir);
  const metrics = createSessionMetrics(() => services.pool.status().reduce((n, p) => n + p.ready, 0));
  const backend: SessionBackend = {
    createEphemeral: async (request, caller) => {
      const r = await services.sandboxes.createEphemeral(
        {
          profile: request.profile,
          env: request.env,
          ...(request.team !== undefined ? { team: request.team } : {}),
        },
        caller,
      );
      return { id: r.id, name: r.name, warm: r.warm };
    },
    remove: (name) => services.sandboxes.remove(name),
    execBuffered: async (name, options) => {
      const r = await services.sandboxes.execBuffered(name, options);
      const timedOut = (r as { timedOut?: boolean }).timedOut === true;
      return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated, timedOut };
    },
    authorizeExec: async (name, argv) => {
      await services.policy.authorize('exec', { argv, via: 'api' }, name);
    },
    workspace: (sandboxId) => ({
      root: services.runtime.mounts.targetOf(sandboxId),
      owner: services.runtime.sandboxHostIds,
    }),
  };
  const sessions = new SessionService({
    backend,
    config,
    stateDir: services.stateDir,
    logger: services.logger.child({ svc: 'sessions' }),
    metrics,
  });
  await sessions.start();
  return { sessions, tokens, metrics, config, close: () => sessions.close() };
}
