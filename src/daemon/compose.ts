import type { FastifyBaseLogger } from 'fastify';
import type { DaemonConfig } from '../config/index.js';
import type { SecretRedactor } from '../credentials/index.js';
import { messageOf, systemClock, type Clock, type Logger } from '../shared/index.js';
import { openAuditLog } from './services/audit.js';
import { CredentialsService } from './services/credentials.js';
import { EgressService } from './services/egress.js';
import { GitGateService, pushDecider } from './services/git-gate.js';
import type { HookDeps, SandboxHook } from './services/hooks.js';
import type { DaemonServices } from './services/index.js';
import { LlmProxyHook, llmPolicySource } from './services/llm-proxy.js';
import { PackageCacheHook } from './services/package-cache.js';
import { CompanionsService } from './services/companions.js';
import { EngineService } from './services/engine.js';
import { PacksService } from './services/packs.js';
import { DevcontainerService } from './services/devcontainer.js';
import { PolicyService } from './services/policy.js';
import { ProposalsService, proposalPolicy } from './services/proposals.js';
import type { RuntimePort } from './services/runtime-port.js';
import { SandboxService } from './services/sandboxes.js';
import { SshGatewayHook, execDoorPolicy } from './services/ssh-gateway.js';
import { TaskService } from './services/tasks.js';
import { WarmPool } from './services/warm-pool.js';
import { createSessionApi } from './services/sessions.js';
import { SandboxStore } from './state/sandbox-store.js';

/** Each service gets this long to close at shutdown; one that does not is logged and left behind. */
const CLOSE_STEP_MS = 5_000;

export interface ComposeInput {
  config: DaemonConfig;
  version: string;
  runtime: RuntimePort;
  logger: Logger;
  /** Masks secret values in the daemon's log; the credentials service registers every value it loads. */
  redactor: SecretRedactor;
  clock?: Clock;
  /**
   * 'none': the egress layer enforces nothing, so no sandbox gets a network at all (fail closed). For daemons
   * without root's network tools: the unit-test daemon (test/support/test-daemon.ts). Default 'enforced'.
   */
  network?: 'enforced' | 'none';
}

export interface ComposedDaemon {
  services: DaemonServices;
  /** Closes every service in reverse build order, each bounded in time; never throws. */
  close(): Promise<void>;
}

/**
 * The composition root: builds every service the daemon has, by name, each handed exactly the services it uses,
 * and derives the sandbox lifecycle's hook list (start order) from them. Nothing is looked up later: a service
 * that cannot be built stops the daemon's start (what was built is closed again), never "allow".
 *
 * Start order of the layers (stop runs in reverse): policy first (every later layer reads the sandbox's composed
 * policy); egress second (its `started` applies the network rules before any other layer's `started` runs, and at
 * stop it is released last, after the container is gone); then the LLM proxy, the git gate and packs; the SSH
 * gateway last (a sandbox is reachable over SSH only once every other layer is up).
 */
export async function composeDaemon(input: ComposeInput): Promise<ComposedDaemon> {
  const { config, runtime, logger } = input;
  const clock = input.clock ?? systemClock;
  const closers: { name: string; close: () => Promise<void> }[] = [];
  const close = () => closeAll(closers, logger);
  const built = <T extends { close(): Promise<void> | void }>(name: string, service: T): T => {
    closers.push({ name, close: async () => service.close() });
    return service;
  };
  try {
    const deps: HookDeps = { config, logger, runtime, daemonId: runtime.daemonId };
    // The audit log opens before any layer (fail closed: aiboxd does not act without a record of it).
    const audit = built('audit', await openAuditLog(config.stateDir, logger, clock));
    const credentials = built(
      'credentials',
      await CredentialsService.create({
        config: config.credentials,
        stateDir: config.stateDir,
        logger: logger.child({ svc: 'credentials' }),
        clock,
        redactor: input.redactor,
      }),
    );
    const policy = await PolicyService.create({ config, audit, logger, clock });
    const policyHook = built('policy', policy.hook());
    const egress = built(
      'egress',
      await EgressService.create({
        ...deps,
        policy,
        clock,
        network: input.network ?? 'enforced',
        credentials: credentials.provider,
      }),
    );
    const llm = built(
      'llm-proxy',
      await LlmProxyHook.create({ ...deps, credentials, audit, policy: llmPolicySource(policy), clock }),
    );
    const git = built(
      'git-gate',
      await GitGateService.create({
        ...deps,
        credentials: credentials.provider,
        audit,
        decidePush: pushDecider(policy),
        clock,
      }),
    );
    const packs = built('packs', await PacksService.create({ ...deps, policy, audit, egress }));
    const packageCache = built('package-cache', await PackageCacheHook.create({ ...deps, policy }));
    // Pack builds fetch their Debian sources through the cache when it is on.
    packs.usePackageCache(packageCache.cache);
    // After egress (it opens each companion in the agent's ruleset) and before devcontainer (postCreateCommand may
    // use a service).
    const companions = built(
      'companions',
      new CompanionsService({
        ...deps,
        policy,
        audit,
        packs,
        networked: egress.enforcing,
        openPeers: (sandboxId, peers) => egress.openPeers(sandboxId, peers),
      }),
    );
    // The container engine (containers door): its front is a gateway port the egress layer opens.
    const engine = built(
      'engine',
      new EngineService({
        ...deps,
        policy,
        audit,
        networked: egress.enforcing,
        egressProxy: (id) => {
          const s = egress.manager.state(id);
          return s && { address: s.sandboxHostAddress, port: s.proxyPort };
        },
        egressCaCert: (id) => (egress.manager.state(id) ? egress.manager.trust(id).caCert : undefined),
      }),
    );
    // After packs: the project's devcontainer.json installs its packs through the packs service.
    const devcontainer = built(
      'devcontainer',
      new DevcontainerService({ logger, policy, packs, sandboxUid: config.runtime.sandboxUid }),
    );
    const proposals = built(
      'proposals',
      await ProposalsService.create({ ...deps, audit, policy: proposalPolicy(policy), egress, clock }),
    );
    // SSH runs commands through the sandbox service, which needs the hooks: bound once it exists. No command can
    // come earlier: the gateway serves only sandboxes whose `started` ran, which the sandbox service calls.
    const late: { sandboxes?: SandboxService } = {};
    const sandboxesLater = () => {
      if (!late.sandboxes) throw new Error('the sandbox service is not built yet');
      return late.sandboxes;
    };
    const ssh = built(
      'ssh-gateway',
      await SshGatewayHook.create({
        config,
        logger,
        clock,
        audit,
        policy: execDoorPolicy(policy),
        sandboxes: {
          exec: (name, options) => sandboxesLater().exec(name, options),
          execBuffered: (name, options) => sandboxesLater().execBuffered(name, options),
        },
      }),
    );
    const hooks: readonly SandboxHook[] = [
      policyHook,
      egress,
      llm,
      git,
      packs,
      packageCache,
      companions,
      engine,
      devcontainer,
      proposals,
      ssh,
    ];
    const sandboxes = built(
      'sandboxes',
      new SandboxService(
        config,
        runtime,
        new SandboxStore(config.stateDir),
        hooks,
        runtime.daemonId,
        logger,
        egress.enforcing,
      ),
    );
    late.sandboxes = sandboxes;
    // The MCP gateway starts enabled servers inside sandboxes through the same exec (limits and pack env apply).
    packs.bindSandboxExec((name, options) => sandboxes.exec(name, options));
    // Started by the server once running sandboxes are re-adopted (it adopts the pool's own from a previous life).
    const pool = built(
      'warm-pool',
      new WarmPool({ sandboxes, config: config.pool, logger: logger.child({ svc: 'warm-pool' }), clock }),
    );
    const sessionApi = built(
      'sessions',
      await createSessionApi({
        config: config.sessions,
        stateDir: config.stateDir,
        logger,
        sandboxes,
        policy,
        runtime,
        pool,
      }),
    );
    const tasks = new TaskService(git.tasks, sandboxes, logger.child({ svc: 'tasks' }));
    const services: DaemonServices = {
      version: input.version,
      config,
      logger,
      httpLogger: logger as FastifyBaseLogger,
      startedAt: new Date(clock.now()),
      runtime,
      audit,
      credentials,
      policy,
      egress,
      llm,
      git,
      packs,
      companions,
      engine,
      devcontainer,
      proposals,
      ssh,
      sandboxes,
      pool,
      tasks,
      sessionApi,
      hooks,
    };
    return { services, close };
  } catch (err) {
    logger.error({ err: messageOf(err) }, 'the daemon cannot start: closing what was built');
    await close();
    throw err;
  }
}

/** Closes in reverse order; each step bounded, a failure logged and the next step run anyway. */
async function closeAll(
  closers: { name: string; close: () => Promise<void> }[],
  logger: Logger,
): Promise<void> {
  for (const step of closers.splice(0).reverse()) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CLOSE_STEP_MS);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([step.close().then(() => 'closed' as const), timeout]);
      if (outcome === 'timeout') logger.warn({ service: step.name }, 'service did not close in time');
    } catch (err) {
      logger.warn({ service: step.name, err: messageOf(err) }, 'service failed to close');
    } finally {
      clearTimeout(timer);
    }
  }
}
