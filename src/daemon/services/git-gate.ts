import {
  createGitGate,
  repoPolicyOf,
  type CredentialSource,
  type GitAuditSink,
  type GitGate,
  type GitGateConfig,
  type GitPolicy,
  type Mount,
  type RefDecider,
  type RefDecision,
  repoAccess,
  gatewayAuthConfig,
  newGatewayKey,
  protectGitMetadata,
} from '../../git-gate/index.js';
import type { Clock, Logger } from '../../shared/index.js';
import { isAiboxError, systemClock } from '../../shared/index.js';
import type {
  HookDeps,
  RunningSandbox,
  SandboxContribution,
  SandboxHook,
  SandboxHookContext,
} from './hooks.js';

export interface GitGateServiceDeps {
  readonly config: GitGateConfig;
  readonly stateDir: string;
  readonly credentials: CredentialSource;
  readonly audit: GitAuditSink;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The policy layer's push decision for one ref of one sandbox: the only source of push decisions. */
  readonly decidePush: PushDecider;
}

export type PushDecider = (sandbox: string, ref: string, op: 'update' | 'delete') => Promise<RefDecision>;

/** The policy service's Rego `push` door as the per-ref decision (its id is what `aibox policy explain` knows). */
export function pushDecider(policy: {
  decide(
    door: 'push',
    request: unknown,
    sandbox?: string,
  ): Promise<{ id: string; outcome: 'allow' | 'approve' | 'deny'; reason: string }>;
}): PushDecider {
  return async (sandbox, ref) => {
    const d = await policy.decide('push', { ref }, sandbox);
    const action = d.outcome === 'approve' ? 'require-approval' : d.outcome;
    return { id: d.id, action, rule: `policy: ${d.reason}` };
  };
}

/**
 * The git gateway as a sandbox layer: each sandbox gets its own loopback gateway port (kept across daemon restarts so
 * its remotes keep working), git configured to reach configured upstreams through it, and — when its folder is a
 * linked worktree — the git metadata mounts a commit needs. Also the push review and task stores the routes use.
 */
export class GitGateService implements SandboxHook {
  readonly layer = 'git-gate';
  readonly gate: GitGate;

  constructor(private readonly deps: GitGateServiceDeps) {
    this.gate = createGitGate(deps);
  }

  static async create(
    deps: HookDeps & {
      credentials: Parameters<typeof gitCredentialSource>[0];
      audit: Parameters<typeof gitAuditSink>[0];
      decidePush: PushDecider;
      clock?: Clock;
    },
  ): Promise<GitGateService> {
    const service = new GitGateService({
      config: deps.config.git,
      stateDir: deps.config.stateDir,
      credentials: gitCredentialSource(deps.credentials),
      audit: gitAuditSink(deps.audit),
      logger: deps.logger,
      clock: deps.clock ?? systemClock,
      decidePush: deps.decidePush,
    });
    // Fail closed at daemon start: a gateway that cannot gate pushes must not serve any.
    await service.gate.gateway.start();
    return service;
  }

  get pushes() {
    return this.gate.pushes;
  }

  get tasks() {
    return this.gate.tasks;
  }

  /** Which configured repositories a sandbox may fetch and push (every sandbox alike; refs: the push door). */
  private policy(): GitPolicy {
    return repoPolicyOf(this.deps.config);
  }

  private decider(sandbox: string): { decide: RefDecider } {
    return { decide: (ref, op) => this.deps.decidePush(sandbox, ref, op) };
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    // A fresh container gets a fresh port and a fresh key; only adopt() must keep the old ones.
    await this.gate.gateway.closeFor(ctx.id);
    const key = newGatewayKey();
    const listener = await this.gate.gateway.openFor({
      sandboxId: ctx.id,
      sandbox: ctx.name,
      key,
      policy: () => this.policy(),
      ...this.decider(ctx.name),
    });
    await this.gate.ports.set(ctx.id, { port: listener.port, key });
    const url = `http://${this.deps.config.sandboxHost}:${listener.port}`;
    // A task worktree's metadata mounts come from its record; any other project gets its .git pinned read-only.
    const mounts: Mount[] = await this.gate.tasks.mountsFor(ctx.path);
    const readOnlyPaths = mounts.length > 0 ? [] : await protectGitMetadata(ctx.path);
    return {
      env: {
        AIBOX_GIT_GATEWAY: url,
        ...gitConfigEnv({ ...this.remoteRewrites(url, this.policy()), ...gatewayAuthConfig(url, key) }),
      },
      mounts: mounts.map((m) => ({ ...m })),
      readOnlyPaths,
      network: true,
      endpoints: { git: `${url}/` },
    };
  }

  /** `url.<gateway>/<name>.git.insteadOf <upstream>`: the agent's usual remote URLs go through the gateway. */
  private remoteRewrites(url: string, policy: GitPolicy): Record<string, string> {
    const config: Record<string, string> = { 'gc.auto': '0', 'maintenance.auto': 'false' };
    for (const repo of this.deps.config.repos) {
      if (!repoAccess(policy, repo.name).fetch || !/^[a-z+]+:\/\//.test(repo.upstream)) continue;
      config[`url.${url}/${repo.name}.git.insteadOf`] = repo.upstream;
    }
    return config;
  }

  async started(_sandbox: RunningSandbox): Promise<void> {
    // Nothing to do inside: the sandbox reaches the gateway through the egress rules (its own port on 10.0.2.2).
  }

  async adopt(sandbox: RunningSandbox): Promise<void> {
    const stored = await this.gate.ports.get(sandbox.id);
    if (!stored) {
      // Started by a daemon that gave no key: fail closed with a fresh one (its git is refused until it restarts).
      this.deps.logger.warn(
        { sandbox: sandbox.name },
        'git gateway key missing; restart the sandbox to use git',
      );
    }
    await this.gate.gateway.openFor({
      sandboxId: sandbox.id,
      sandbox: sandbox.name,
      key: stored?.key ?? newGatewayKey(),
      policy: () => this.policy(),
      ...this.decider(sandbox.name),
      ...(stored ? { port: stored.port } : {}),
    });
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    await this.gate.gateway.closeFor(ctx.id);
    await this.gate.ports.delete(ctx.id);
    const task = (await this.gate.tasks.list()).find((t) => t.sandbox === ctx.name && t.state === 'active');
    if (task) await this.gate.tasks.complete(task.name);
  }

  async close(): Promise<void> {
    await this.gate.gateway.close();
  }
}

/** Git configuration as GIT_CONFIG_COUNT/KEY/VALUE environment (no file in the sandbox to plant or edit). */
function gitConfigEnv(config: Record<string, string>): Record<string, string> {
  const entries = Object.entries(config);
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

/** Adapts the audit log (AuditLog.append) to the git gate's sink. */
export function gitAuditSink(log: {
  append(entry: {
    kind: string;
    id?: string;
    sandbox?: string;
    data?: Record<string, unknown>;
  }): Promise<unknown>;
}): GitAuditSink {
  return {
    record: async ({ type, sandbox, pushId, decisionId, ...data }) => {
      await log.append({
        kind: type,
        ...(pushId || decisionId ? { id: pushId ?? decisionId } : {}),
        ...(sandbox ? { sandbox } : {}),
        data: { ...data, ...(decisionId ? { decisionId } : {}), ...(pushId ? { pushId } : {}) },
      });
    },
  };
}

/** Adapts the credentials module's provider (values wrapped in SecretValue) to the gate's CredentialSource. */
export function gitCredentialSource(provider: {
  get(name: string, options?: { kind?: 'git' }): Promise<{ value: { reveal(): string } }>;
}): CredentialSource {
  return {
    get: async (name) => {
      try {
        return (await provider.get(name, { kind: 'git' })).value.reveal();
      } catch (err) {
        if (isAiboxError(err) && err.status === 404) return undefined;
        throw err;
      }
    },
  };
}
