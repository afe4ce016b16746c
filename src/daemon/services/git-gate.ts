import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  createGitGate,
  gitGateErrors,
  type CredentialSource,
  type GitAuditSink,
  type GitGate,
  type GitGateConfig,
  type GitPolicy,
  type Mount,
  type RefDecider,
  type RefDecision,
  repoAccess,
  type TaskRecord,
  gatewayAuthConfig,
  newGatewayKey,
  protectGitMetadata,
} from '../../git-gate/index.js';
import type {
  CreateSandboxRequest,
  CreateTaskRequest,
  Clock,
  Logger,
  SandboxReport,
} from '../../shared/index.js';
import { isAiboxError, messageOf, systemClock } from '../../shared/index.js';
import type { HookDeps } from './hooks-registry.js';
import type { RunningSandbox, SandboxContribution, SandboxHook, SandboxHookContext } from './hooks.js';

/** The part of the sandbox service tasks need (bound late: hooks are built before the sandbox service). */
export interface TaskSandboxes {
  create(request: CreateSandboxRequest): Promise<SandboxReport>;
  remove(name: string): Promise<void>;
}

export interface GitGateServiceDeps {
  readonly config: GitGateConfig;
  readonly stateDir: string;
  readonly credentials: CredentialSource;
  readonly audit: GitAuditSink;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The git policy of one sandbox; default: the config's `policy` (until the Rego policy layer supplies one). */
  readonly policyFor?: (sandbox: SandboxHookContext) => GitPolicy;
  readonly decidePush?: GitGateExtras['decidePush'];
}

/** Collaborators the daemon may hand over; without them the documented fallbacks apply. */
export interface GitGateExtras {
  /** The credentials module's provider (CredentialsService.provider); without it no repository can use a credential. */
  credentials?: Parameters<typeof gitCredentialSource>[0];
  /** The audit log; without it, events go to <stateDir>/git-gate/audit.jsonl (0600). */
  audit?: Parameters<typeof gitAuditSink>[0];
  clock?: Clock;
  policyFor?: (sandbox: SandboxHookContext) => GitPolicy;
  /** The policy layer's push decision for one ref of one sandbox (stricter of it and `git.policy` wins). */
  decidePush?: (sandbox: string, ref: string, op: 'update' | 'delete') => Promise<RefDecision>;
}

/** The extras the policy service provides: its audit log and the Rego `push` door as the per-ref decision. */
export function gitGateExtrasFrom(policy: {
  auditLog: NonNullable<GitGateExtras['audit']>;
  decide(
    door: 'push',
    request: unknown,
    sandbox?: string,
  ): Promise<{ id: string; outcome: 'allow' | 'approve' | 'deny'; reason: string }>;
}): GitGateExtras {
  return {
    audit: policy.auditLog,
    decidePush: async (sandbox, ref) => {
      const d = await policy.decide('push', { ref }, sandbox);
      const action = d.outcome === 'approve' ? 'require-approval' : d.outcome;
      return { id: d.id, action, rule: `policy: ${d.reason}` };
    },
  };
}

/**
 * The git gateway as a sandbox layer: each sandbox gets its own loopback gateway port (kept across daemon restarts so
 * its remotes keep working), git configured to reach configured upstreams through it, and — when its folder is a
 * linked worktree — the git metadata mounts a commit needs. Also the push review and task operations the routes call.
 */
export class GitGateService implements SandboxHook {
  readonly layer = 'git-gate';
  readonly gate: GitGate;

  constructor(private readonly deps: GitGateServiceDeps) {
    this.gate = createGitGate(deps);
  }

  static async create(deps: HookDeps & GitGateExtras): Promise<GitGateService> {
    const stateDir = deps.config.stateDir;
    const service = new GitGateService({
      config: deps.config.git,
      stateDir,
      credentials: deps.credentials ? gitCredentialSource(deps.credentials) : { get: async () => undefined },
      audit: deps.audit
        ? gitAuditSink(deps.audit)
        : jsonlAuditSink(path.join(stateDir, 'git-gate', 'audit.jsonl')),
      logger: deps.logger,
      clock: deps.clock ?? systemClock,
      ...(deps.policyFor ? { policyFor: deps.policyFor } : {}),
      ...(deps.decidePush ? { decidePush: deps.decidePush } : {}),
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

  private policy(ctx: SandboxHookContext): GitPolicy {
    return this.deps.policyFor?.(ctx) ?? this.deps.config.policy;
  }

  private decider(sandbox: string): { decide?: RefDecider } {
    const decide = this.deps.decidePush;
    return decide ? { decide: (ref, op) => decide(sandbox, ref, op) } : {};
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    // A fresh container gets a fresh port and a fresh key; only adopt() must keep the old ones.
    await this.gate.gateway.closeFor(ctx.id);
    const key = newGatewayKey();
    const listener = await this.gate.gateway.openFor({
      sandboxId: ctx.id,
      sandbox: ctx.name,
      key,
      policy: () => this.policy(ctx),
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
        ...gitConfigEnv({ ...this.remoteRewrites(url, this.policy(ctx)), ...gatewayAuthConfig(url, key) }),
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
      policy: () => this.policy(sandbox),
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

  /** `aibox task new`: branch + worktree, then a sandbox on it (rolled back if the sandbox cannot start). */
  async createTask(request: CreateTaskRequest, sandboxes: TaskSandboxes): Promise<TaskRecord> {
    const task = await this.gate.tasks.create({
      repo: request.repo,
      description: request.description,
      ...(request.base ? { base: request.base } : {}),
    });
    if (!request.sandbox) return task;
    const name = `task-${task.name}`.slice(0, 63).replace(/-+$/, '');
    try {
      await sandboxes.create({ path: task.worktree, name, profile: request.profile ?? 'default' });
    } catch (err) {
      this.deps.logger.warn(
        { task: task.name, err: messageOf(err) },
        'task sandbox failed; removing the worktree',
      );
      await this.gate.tasks.remove(task.name, { deleteBranch: true, force: true }).catch(() => undefined);
      throw err;
    }
    return this.gate.tasks.attachSandbox(task.name, name);
  }

  async removeTask(
    name: string,
    opts: { deleteBranch: boolean; force: boolean },
    sandboxes: TaskSandboxes,
  ): Promise<TaskRecord> {
    const task = await this.gate.tasks.get(name);
    if (task.sandbox) {
      await sandboxes.remove(task.sandbox).catch((err: unknown) => {
        if (!(isAiboxError(err) && err.status === 404)) throw err;
      });
    }
    return this.gate.tasks.remove(name, opts);
  }
}

/** The git gate layer among the daemon's hooks (routes reach it here). */
export function gitGateOf(hooks: readonly SandboxHook[]): GitGateService {
  const hook = hooks.find((h): h is GitGateService => h instanceof GitGateService);
  if (!hook)
    throw gitGateErrors.create('GIT_GATE_DISABLED', 'the git gateway layer is not enabled in this daemon');
  return hook;
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

/** Fallback audit sink: one JSON line per event, for daemons built without the audit log. */
function jsonlAuditSink(file: string): GitAuditSink {
  return {
    record: async (event) => {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await appendFile(file, `${JSON.stringify(event)}\n`, { mode: 0o600 });
    },
  };
}
