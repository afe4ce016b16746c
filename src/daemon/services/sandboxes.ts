import { chown, mkdir } from 'node:fs/promises';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadProfile, type DaemonConfig, type Profile } from '../../config/index.js';
import {
  HostPathError,
  identityOf,
  isDirectory,
  pinnedParents,
  probeHostPath,
  runtimeErrors,
  type ContainerExit,
  type ManagedContainer,
  type ExecOptions,
  type ExecSession,
  type Mount,
  type ProcessInfo,
} from '../../runtime/index.js';
import {
  AiboxError,
  SANDBOX_NAME_PATTERN,
  isAiboxError,
  messageOf,
  newId,
  type CreateSandboxRequest,
  type Logger,
  type Protection,
  type SandboxReport,
  type Caller,
} from '../../shared/index.js';
import { daemonErrors } from '../errors.js';
import type { SandboxStore } from '../state/sandbox-store.js';
import { type SandboxRecord } from '../state/sandbox-store.js';
import type { SandboxContribution, SandboxHook, SandboxHookContext } from './hooks.js';
import type { RuntimePort } from './runtime-port.js';
import { UserNames } from './user-names.js';

type Undo = () => Promise<unknown>;

/** Exec options as callers give them; the sandbox's profile adds its limits. */
export type SandboxExecOptions = Omit<ExecOptions, 'maxProcesses'>;

/** Sandboxes recovered side by side after a restart (each waits mostly on Podman and its helpers). */
const RECOVERY_CONCURRENCY = 8;

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Host places no sandbox may ever get, checked on the real path of the opened folder: `/` itself, and everything at
 * or under the others (plus the daemon's state and mounts directories).
 */
const FORBIDDEN_PREFIXES = [
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/opt/aibox',
  '/proc',
  '/root/.ssh',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/var',
];

/** Whether `real` is `/`, or is or lies under one of the other forbidden prefixes. */
export function isForbiddenPath(real: string, extra: string[] = []): boolean {
  if (real === '/') return true;
  return [...FORBIDDEN_PREFIXES.slice(1), ...extra].some(
    (p) => real === p || real.startsWith(`${p.replace(/\/+$/, '')}/`),
  );
}

/**
 * The sandbox lifecycle: validate, set up every enforcement layer, start, exec, stop, remove, re-adopt.
 * Start-up is all-or-nothing: each step registers how to undo itself, and any failure undoes them all (fail closed).
 */
export class SandboxService {
  private readonly busy = new Map<string, Promise<unknown>>();
  private takeFromPool: ((profile: string) => string | undefined) | undefined;
  private unwatch: (() => void) | undefined;
  private readonly userNames = new UserNames();

  constructor(
    private readonly config: DaemonConfig,
    private readonly runtime: RuntimePort,
    private readonly store: SandboxStore,
    private readonly hooks: readonly SandboxHook[],
    readonly daemonId: string,
    private readonly logger: Logger,
    /** Whether the egress layer enforces egress: without it no sandbox gets a network, whoever asks (fail closed). */
    private readonly networkEnforced = true,
  ) {
    if (runtime.daemonId !== daemonId)
      throw new Error('the runtime and the sandbox service disagree on the daemon id');
  }

  async list(): Promise<SandboxReport[]> {
    const records = await this.store.list();
    return Promise.all(records.map((r) => this.report(r)));
  }

  async get(name: string): Promise<SandboxReport> {
    return this.report(await this.find(name));
  }

  async find(name: string): Promise<SandboxRecord> {
    const record = await this.store.findByName(name);
    if (!record) throw daemonErrors.create('SANDBOX_NOT_FOUND', `no sandbox named "${name}"`, { name });
    return record;
  }

  async create(request: CreateSandboxRequest, caller: Caller): Promise<SandboxReport> {
    // Independent reads side by side (file reads, answers from the Podman service); errors in this order.
    const [{ path: projectPath, identity }, profile, existing, alive, present, image] = await settled([
      this.validatePath(request.path, caller),
      loadProfile(this.config.profilesDir, request.profile),
      this.store.list(),
      this.runtime.podman.ping(),
      this.runtime.image.present(),
      this.runtime.image.reference(),
    ] as const);
    const name = request.name ?? defaultName(projectPath, new Set(existing.map((r) => r.name)));
    if (!SANDBOX_NAME_PATTERN.test(name)) {
      throw daemonErrors.create('SANDBOX_NAME_INVALID', `invalid sandbox name "${name}"`, { name });
    }
    if (existing.some((r) => r.name === name)) {
      throw daemonErrors.create('SANDBOX_NAME_TAKEN', `a sandbox named "${name}" already exists`, { name });
    }
    if (!alive) {
      throw runtimeErrors.create('RUNTIME_PODMAN_SERVICE', 'the private podman service does not answer', {
        layer: 'runtime',
      });
    }
    if (!present) {
      throw runtimeErrors.create('RUNTIME_IMAGE_MISSING', 'the base image is not built', {
        layer: 'runtime',
      });
    }
    const record: SandboxRecord = {
      id: newId('sbx'),
      name,
      path: projectPath,
      pathIdentity: identity,
      profile: profile.name,
      state: 'creating',
      image,
      createdAt: new Date().toISOString(),
      ownerUid: caller.uid,
      env: {},
      endpoints: {},
      network: false,
      ...(request.devcontainer === false ? { noDevcontainer: true } : {}),
    };
    return this.exclusive(name, async () => {
      await this.store.save(record);
      try {
        await this.bringUp(record, profile);
      } catch (err) {
        await this.store.remove(record.id);
        throw err;
      }
      return this.report(record);
    });
  }

  /**
   * Where workspace-less creates look first (the warm pool, src/daemon/services/warm-pool.ts): hands out the id of
   * a started, unclaimed sandbox of this profile, or nothing.
   */
  usePool(take: (profile: string) => string | undefined): void {
    this.takeFromPool = take;
  }

  /**
   * A sandbox with no host project folder (sessions; `POST /v1/sandboxes` without `path`). Claimed from the warm
   * pool when it holds a started sandbox of this profile and no name was asked for (the claim keeps the pooled
   * sandbox's generated name), otherwise started cold. Its workspace is a tmpfs of pool.workspaceMiB made for it
   * and removed with it; `env` is added to every exec. `pooled`: the warm pool's own starts (owner root, unclaimed).
   */
  async createEphemeral(
    request: { profile?: string; name?: string; env?: Record<string, string>; team?: string },
    caller: Caller,
    options: { pooled?: boolean } = {},
  ): Promise<SandboxReport & { warm: boolean }> {
    const profile = await loadProfile(this.config.profilesDir, request.profile ?? 'session');
    const env = checkSessionEnv(request.env ?? {});
    // Pooled sandboxes run under the org's choice of team: a sandbox for a given team starts cold under that team.
    if (!request.name && !options.pooled && request.team === undefined) {
      const claimed = await this.claim(profile.name, caller, env);
      if (claimed) return { ...claimed, warm: true };
    }
    const id = newId('sbx');
    const name = request.name ?? `${profile.name}-${id.slice(-8).toLowerCase()}`;
    if (!SANDBOX_NAME_PATTERN.test(name)) {
      throw daemonErrors.create('SANDBOX_NAME_INVALID', `invalid sandbox name "${name}"`, { name });
    }
    const [alive, present, image] = await Promise.all([
      this.runtime.podman.ping(),
      this.runtime.image.present(),
      this.runtime.image.reference(),
    ]);
    if (!alive)
      throw runtimeErrors.create('RUNTIME_PODMAN_SERVICE', 'the private podman service does not answer', {
        layer: 'runtime',
      });
    if (!present)
      throw runtimeErrors.create('RUNTIME_IMAGE_MISSING', 'the base image is not built', {
        layer: 'runtime',
      });
    const record: SandboxRecord = {
      id,
      name,
      // The layers read "the project folder" from here: an empty folder of the daemon's, never the workspace.
      path: path.join(this.store.dirOf(id), 'no-project'),
      profile: profile.name,
      state: 'creating',
      image,
      createdAt: new Date().toISOString(),
      ownerUid: options.pooled ? 0 : caller.uid,
      env: {},
      endpoints: {},
      network: false,
      ephemeral: { workspaceMiB: this.config.pool.workspaceMiB },
      ...(request.team !== undefined ? { team: request.team } : {}),
      ...(options.pooled ? { pool: profile.name } : {}),
      ...(Object.keys(env).length > 0 ? { execEnv: env } : {}),
    };
    return this.exclusive(name, async () => {
      await this.store.create(record);
      try {
        await this.bringUp(record, profile);
      } catch (err) {
        await this.store.remove(record.id);
        throw err;
      }
      return { ...(await this.report(record)), warm: false };
    });
  }

  /** The warm pool's unclaimed sandboxes on record (after a restart: to adopt or remove). */
  async pooled(): Promise<{ id: string; name: string; pool: string; createdAt: string; running: boolean }[]> {
    const records = (await this.store.list()).filter((r) => r.pool !== undefined);
    return Promise.all(
      records.map(async (r) => ({
        id: r.id,
        name: r.name,
        pool: r.pool!,
        createdAt: r.createdAt,
        running: r.state === 'running' && (await this.isRunning(r)),
      })),
    );
  }

  /** Takes a pooled sandbox for `caller`: the record changes hands (owner, env), nothing is restarted. */
  private async claim(
    profile: string,
    caller: Caller,
    env: Record<string, string>,
  ): Promise<SandboxReport | undefined> {
    for (let id = this.takeFromPool?.(profile); id; id = this.takeFromPool?.(profile)) {
      const record = await this.store.get(id);
      if (record?.state !== 'running' || record.pool !== profile || this.busy.has(record.name)) continue;
      const claimed = await this.exclusive(record.name, async () => {
        const now = await this.store.get(id);
        if (now?.state !== 'running' || now.pool !== profile) return undefined;
        delete now.pool;
        now.ownerUid = caller.uid;
        if (Object.keys(env).length > 0) now.execEnv = env;
        await this.store.save(now);
        return now;
      });
      if (!claimed) continue;
      this.logger.info(
        { sandbox: claimed.name, id: claimed.id, profile, uid: caller.uid },
        'claimed from the pool',
      );
      return this.report(claimed);
    }
    return undefined;
  }

  async start(name: string): Promise<SandboxReport> {
    const record = await this.find(name);
    return this.exclusive(name, async () => {
      if (record.state === 'running' && (await this.isRunning(record))) return this.report(record);
      const profile = await loadProfile(this.config.profilesDir, record.profile);
      if (record.containerId) await this.runtime.removeContainer(record.containerId);
      delete record.containerId;
      await this.bringUp(record, profile);
      return this.report(record);
    });
  }

  async stop(name: string): Promise<SandboxReport> {
    const record = await this.find(name);
    return this.exclusive(name, async () => {
      await this.tearDown(record);
      record.state = 'stopped';
      await this.store.save(record);
      return this.report(record);
    });
  }

  async remove(name: string): Promise<void> {
    const record = await this.find(name);
    await this.exclusive(name, async () => {
      await this.tearDown(record);
      if (record.containerId) await this.runtime.removeContainer(record.containerId);
      await this.store.remove(record.id);
      this.logger.info({ sandbox: record.name, id: record.id }, 'sandbox removed');
    });
  }

  async exec(name: string, options: SandboxExecOptions): Promise<ExecSession> {
    const record = await this.requireRunning(name);
    const opts = await this.withLimits(record, options);
    return this.runtime.exec(record.containerId, opts).catch((err: unknown) => this.execFailed(record, err));
  }

  async execBuffered(name: string, options: SandboxExecOptions) {
    const record = await this.requireRunning(name);
    const opts = await this.withLimits(record, options);
    const result = await this.runtime
      .execBuffered(record.containerId, opts)
      .catch((err: unknown) => this.execFailed(record, err));
    // 125: the engine could not run the command at all, which is what a container that just died answers.
    if (result.exitCode === 125 && !(await this.isRunning(record))) await this.execFailed(record, result);
    return result;
  }

  /** The sandbox's processes (its exec agent left out), as the agent reads them. */
  async processes(name: string): Promise<ProcessInfo[]> {
    const record = await this.requireRunning(name);
    return this.runtime.processes(record.containerId).catch((err: unknown) => this.execFailed(record, err));
  }

  /**
   * Signals one process of the sandbox. Refused here, before the agent is asked (which refuses too): pid 1 and
   * every root process (the agent, a pre-started aibox-exec before it drops to the sandbox user).
   */
  async killProcess(name: string, pid: number, signal: string): Promise<void> {
    const record = await this.requireRunning(name);
    const protectedPid = () =>
      daemonErrors.create(
        'SANDBOX_PROCESS_PROTECTED',
        `process ${pid} of sandbox "${name}" cannot be signalled`,
        {
          name,
          pid,
        },
      );
    if (pid < 2) throw protectedPid();
    const list = await this.runtime
      .processes(record.containerId)
      .catch((err: unknown) => this.execFailed(record, err));
    const target = list.find((p) => p.pid === pid);
    if (!target)
      throw runtimeErrors.create('RUNTIME_PROCESS_NOT_FOUND', `no process ${pid} in sandbox "${name}"`);
    if (target.uid === 0) throw protectedPid();
    await this.runtime.killProcess(record.containerId, pid, signal).catch((err: unknown) => {
      // The agent's own refusal (errno EPERM) of a process that became root in between.
      if (isAiboxError(err) && err.code === 'RUNTIME_EXEC_BAD_REQUEST' && /errno 1\)/.test(err.message)) {
        throw protectedPid();
      }
      throw err;
    });
  }

  /** An exec that failed because the container is gone is the caller's 409, and the sandbox's layers go with it. */
  private async execFailed(record: SandboxRecord & { containerId: string }, err: unknown): Promise<never> {
    const state = await this.runtime.inspect(record.containerId);
    if (state?.running) throw err;
    await this.containerExited({
      containerId: record.containerId,
      sandboxId: record.id,
      exitCode: state?.exitCode,
      oom: state?.oomKilled ?? false,
    });
    const now = (await this.store.get(record.id)) ?? record;
    throw daemonErrors.create(
      'SANDBOX_NOT_RUNNING',
      `sandbox "${record.name}" is ${now.state === 'running' ? 'stopped' : now.state}${now.error ? `: ${now.error}` : ''}`,
      { name: record.name },
    );
  }

  /**
   * Follows the container: when it exits on its own (an OOM kill, a crash, `kill` from the host), the record says
   * so with the reason, and every layer is released (hooks' stop, mounts, cgroups). Stops we make ourselves run
   * under `exclusive` and are left alone here.
   */
  async containerExited(exit: ContainerExit): Promise<void> {
    const record = await this.store.get(exit.sandboxId);
    if (!record || record.containerId !== exit.containerId || record.state !== 'running') return;
    if (this.busy.has(record.name)) return;
    await this.exclusive(record.name, async () => {
      const oomKills = await this.runtime.limits.oomKills(record.id);
      const inspected = await this.runtime.inspect(exit.containerId);
      if (inspected?.running) return;
      const exitCode = exit.exitCode ?? inspected?.exitCode;
      // The cgroup's counter also counts a single process killed inside (the sandbox survives those): only an
      // abnormal exit with kills on record is the sandbox's own OOM kill.
      const oom = exit.oom || inspected?.oomKilled === true || (oomKills > 0 && exitCode !== 0);
      const limit = await loadProfile(this.config.profilesDir, record.profile).then(
        (p) => ` (${p.limits.memoryMiB} MiB)`,
        () => '',
      );
      record.error = oom
        ? `OOM: killed for going over its memory limit${limit}, exit code ${exitCode ?? 'unknown'}`
        : `the container exited with code ${exitCode ?? 'unknown'}`;
      record.state = oom || exitCode !== 0 ? 'failed' : 'stopped';
      await this.tearDown(record);
      await this.store.save(record);
      this.logger.warn({ sandbox: record.name, id: record.id, reason: record.error }, 'sandbox exited');
    }).catch((err: unknown) =>
      this.logger.error({ sandbox: record.name, err: messageOf(err) }, 'cannot release an exited sandbox'),
    );
  }

  private async withLimits(record: SandboxRecord, options: SandboxExecOptions): Promise<ExecOptions> {
    const maxProcesses =
      record.maxProcesses ?? (await loadProfile(this.config.profilesDir, record.profile)).limits.processes;
    const hookEnv: Record<string, string>[] = [];
    for (const h of this.hooks) if (h.execEnv) hookEnv.push(await h.execEnv(record));
    return {
      ...options,
      env: Object.assign({}, ...hookEnv, record.execEnv, options.env) as Record<string, string>,
      maxProcesses,
    };
  }

  async logs(name: string): Promise<string> {
    const record = await this.find(name);
    if (!record.containerId) return '';
    return this.runtime.logs(record.containerId);
  }

  /** The running sandbox's host pid (for layers that enter its network namespace). */
  async pidOf(name: string): Promise<number> {
    const record = await this.requireRunning(name);
    const state = await this.runtime.inspect(record.containerId);
    return state?.pid ?? 0;
  }

  /**
   * After a daemon restart: re-adopt running sandboxes (their enforcement layers re-attach), mark the ones whose
   * container is gone as stopped, and sweep what no record claims (containers, mounts, cgroups). Each sandbox's
   * recovery touches only its own layers, so they run side by side: interrupted starts do not keep the API down
   * one after the other. Fail closed: a sandbox whose layers are not all re-adopted is stopped, never running.
   */
  async adoptAndSweep(): Promise<{ adopted: string[]; swept: string[] }> {
    const began = Date.now();
    const records = await this.store.list();
    const containers = await this.runtime.listManaged(this.daemonId);
    const adopted: string[] = [];
    const adoptedIds = new Set<string>();
    // Keyed by sandbox id: a sandbox is named once however many of its leftovers were swept.
    const swept = new Map<string, string>();
    await eachLimited(records, RECOVERY_CONCURRENCY, async (record) => {
      const container = containers.find((c) => c.sandboxId === record.id);
      const outcome = await this.recover(record, container).catch(async (err: unknown) => {
        this.logger.error({ sandbox: record.name, err: messageOf(err) }, 'cannot recover; marking it failed');
        record.state = 'failed';
        record.error = `recovery after a restart failed: ${messageOf(err)}`;
        await this.store.save(record);
        return 'failed' as const;
      });
      if (outcome === 'adopted') {
        adopted.push(record.name);
        adoptedIds.add(record.id);
      }
      if (outcome === 'swept') swept.set(record.id, record.name);
    });
    const known = new Set((await this.store.list()).map((r) => r.id));
    // Containers a layer runs for an adopted sandbox under ids of their own (companion services) are not leftovers.
    for (const hook of this.hooks)
      for (const id of (await hook.keeps?.(adoptedIds).catch((err: unknown) => {
        this.logger.error({ layer: hook.layer, err: messageOf(err) }, 'cannot tell what the layer keeps');
        return [];
      })) ?? [])
        known.add(id);
    const handled = new Set(records.map((r) => r.id));
    await eachLimited(
      // A swept record's container was removed with it: only containers no record ever claimed are left.
      containers.filter((c) => !known.has(c.sandboxId) && !handled.has(c.sandboxId)),
      RECOVERY_CONCURRENCY,
      async (c) => {
        await this.runtime.removeContainer(c.containerId);
        swept.set(c.sandboxId || c.containerId, c.name || c.sandboxId || c.containerId);
      },
    );
    // gVisor containers Podman itself lost (a daemon killed mid-create): only runsc can remove them.
    const lost = await this.runtime.sweepLost?.().catch((err: unknown) => {
      this.logger.error({ err: messageOf(err) }, 'cannot sweep the gVisor containers Podman lost');
      return [];
    });
    for (const id of lost ?? []) if (!swept.has(id)) swept.set(id, id);
    // Only this daemon's own folder (mountsDir/<daemonId>/): other daemons' mounts are never looked at.
    await eachLimited(
      (await this.runtime.mounts.list()).filter((id) => !known.has(id)),
      RECOVERY_CONCURRENCY,
      async (id) => {
        await this.runtime.mounts.unmount(id).catch(() => undefined);
        if (!swept.has(id)) swept.set(id, id);
      },
    );
    const result = { adopted: adopted.sort(), swept: [...swept.values()].sort() };
    this.logger.info({ ...result, ms: Date.now() - began }, 'adopted running sandboxes and swept leftovers');
    this.watch();
    return result;
  }

  /** One record after a restart: re-adopted, stopped (its container is gone or dead), or swept (a crash mid-start). */
  private async recover(
    record: SandboxRecord,
    container: ManagedContainer | undefined,
  ): Promise<'adopted' | 'stopped' | 'swept' | 'unchanged'> {
    if (record.state === 'creating') {
      // A crash mid-start: nothing ran in it yet (exec needs "running"), so it is killed at once rather than given
      // the stop grace period, and only then are its layers released.
      const id = container?.containerId ?? record.containerId;
      if (id) await this.runtime.removeContainer(id);
      await this.releaseLayers(record);
      await this.store.remove(record.id);
      return 'swept';
    }
    if (container && !container.running) {
      // A sandbox that died while we were away: its layers cannot be trusted.
      await this.tearDown(record).catch(() => undefined);
      record.state = 'stopped';
      await this.store.save(record);
      return 'stopped';
    }
    if (record.state === 'running' && container?.running) {
      try {
        for (const hook of this.hooks)
          await hook.adopt?.({
            ...this.context(record),
            pid: container.pid,
            containerId: container.containerId,
            endpoints: record.endpoints,
          });
        return 'adopted';
      } catch (err) {
        this.logger.error(
          { sandbox: record.name, err: messageOf(err) },
          'cannot re-adopt; stopping it (fail closed)',
        );
        await this.tearDown(record).catch(() => undefined);
        record.state = 'stopped';
        record.error = messageOf(err);
        await this.store.save(record);
        return 'stopped';
      }
    }
    if (record.state === 'running' && !container) {
      await this.tearDown(record).catch(() => undefined);
      record.state = 'stopped';
      await this.store.save(record);
      return 'stopped';
    }
    return 'unchanged';
  }

  /** Starts following container exits (once). */
  watch(): void {
    if (this.unwatch) return;
    this.unwatch = this.runtime.watchExits((exit) => void this.containerExited(exit));
  }

  /** Stops following container exits (shutdown; the sandboxes keep running). */
  close(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    return Promise.resolve();
  }

  private async bringUp(record: SandboxRecord, profile: Profile): Promise<void> {
    const undo: Undo[] = [];
    const ctx = this.context(record);
    // Milliseconds per start phase, in the "sandbox running" line: where a slow start spends its time.
    const phases: Record<string, number> = {};
    let mark = Date.now();
    const traced = { sandbox: record.name, id: record.id };
    const lap = (phase: string) => {
      const now = Date.now();
      phases[phase] = now - mark;
      mark = now;
      this.logger.debug({ ...traced, step: phase, ms: phases[phase] }, 'start step');
    };
    // One debug line per layer step too: which hook a slow phase spent its time in.
    const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
      const began = Date.now();
      try {
        return await work();
      } finally {
        this.logger.debug({ ...traced, step, ms: Date.now() - began }, 'start step');
      }
    };
    // Before any layer reads the folder: it must still be the one the sandbox was created on. (The mount checks
    // again on the fd it mounts from, so a swap after this point is refused too.)
    await this.checkIdentity(record);
    // Without a host folder, the layers get an empty folder of the daemon's (root's, read-only) to read as one.
    if (record.ephemeral) await mkdir(record.path, { recursive: true, mode: 0o555 });
    try {
      // Independent steps run side by side: the layers' prepare chain (in START_ORDER), the seccomp filter, the home
      // folder, and the workspace mount — the latter only once the first layer (policy, which authorizes it) is
      // up. Each branch settles before anything is rolled back. Nothing here starts a sandbox process.
      const dir = this.store.dirOf(record.id);
      const home = path.join(dir, 'home');
      const seccompBpf = path.join(dir, 'seccomp.bpf');
      const contributions: SandboxContribution[] = [];
      let firstLayerUp: () => void = () => undefined;
      const firstLayer = new Promise<void>((resolve) => (firstLayerUp = resolve));
      let firstLayerOk = this.hooks.length === 0;
      undo.push(() => this.runtime.mounts.unmount(record.id));
      const [, workspace] = await settled([
        (async () => {
          for (const hook of this.hooks) {
            // The undo first: a prepare that fails half-way is undone too (stop is idempotent).
            undo.push(() => hook.stop?.(ctx) ?? Promise.resolve());
            if (hook.prepare)
              contributions.push(
                await timed(`prepare:${hook.layer}`, () =>
                  this.inLayer(hook.layer, () => hook.prepare!(ctx), record.path),
                ),
              );
            firstLayerOk = true;
            firstLayerUp();
          }
        })().finally(() => firstLayerUp()),
        (async () => {
          await firstLayer;
          if (!firstLayerOk) return ''; // the first layer failed: nothing is mounted, the start is rolled back
          return timed('workspace', () =>
            this.inLayer('workspace', () =>
              record.ephemeral
                ? this.mountEphemeralWorkspace(record.id, record.ephemeral.workspaceMiB)
                : this.runtime.mountWorkspace(record.id, record.path, {
                    expect: record.pathIdentity!,
                    forbid: this.forbidden(),
                  }),
            ),
          );
        })(),
        timed('seccomp', () =>
          this.inLayer('seccomp', () => this.runtime.compileSeccomp(profile, seccompBpf)),
        ),
        timed('home', async () => {
          await mkdir(home, { recursive: true, mode: 0o750 });
          const ids = this.runtime.sandboxHostIds;
          await chown(home, ids.uid, ids.gid);
        }),
      ] as const);
      const env = Object.assign({}, ...contributions.map((c) => c.env ?? {})) as Record<string, string>;
      const endpoints = Object.assign({}, ...contributions.map((c) => c.endpoints ?? {})) as Record<
        string,
        string
      >;
      const asked = contributions.some((c) => c.network === true);
      const network = asked && this.networkEnforced;
      if (asked && !network) this.logger.info({ sandbox: record.name }, 'no egress enforcement: no network');
      lap('prepare');

      // Every other bind is made from a no-follow fd too: a link planted in the workspace (or a worktree's
      // metadata) is refused, never followed to a host path.
      const rels = [...new Set(contributions.flatMap((c) => c.readOnlyPaths ?? []))];
      // Their parent folders first, bound read-write over themselves: a mount point cannot be renamed away.
      const pins = pinnedParents(rels);
      const inWorkspace = [...pins, ...rels]
        .map((rel) => ({
          source: path.posix.join(workspace, path.posix.normalize(rel)),
          readOnly: !pins.includes(rel),
        }))
        .filter((m) => m.source.startsWith(`${workspace}/`));
      const extras = contributions.flatMap((c) => c.mounts ?? []);
      const made = await this.inLayer('workspace', () =>
        this.runtime.prepareMounts(record.id, [
          // No link at any component and no `..`: the opened path is the workspace's, under aiboxd's own mount.
          ...inWorkspace.map((m) => ({ ...m, forbid: [] })),
          ...extras.map((m) => ({
            source: m.source,
            readOnly: m.readOnly,
            forbid: m.daemonOwned ? [] : this.forbidden(),
          })),
        ]),
      );
      const readOnlyPaths: Mount[] = inWorkspace.map((m, i) => ({
        source: made[i]!,
        target: path.posix.relative(workspace, m.source),
        readOnly: m.readOnly,
      }));
      const extraMounts: Mount[] = extras.map((m, i) => ({
        source: made[inWorkspace.length + i]!,
        target: m.target,
        readOnly: m.readOnly,
      }));
      lap('mounts');

      const containerId = await this.inLayer('runtime', () =>
        this.runtime.createContainer({
          id: record.id,
          name: record.name,
          daemonId: this.daemonId,
          image: record.image,
          profile,
          rootless: this.runtime.rootless,
          sandboxUid: this.config.runtime.sandboxUid,
          workspace,
          home,
          seccompBpf,
          readOnlyPaths,
          extraMounts,
          env,
          network,
          hostCaBundle: existsSync(HOST_CA_BUNDLE) ? HOST_CA_BUNDLE : undefined,
        }),
      );
      undo.push(() => this.runtime.removeContainer(containerId));
      record.containerId = containerId;
      record.env = env;
      record.endpoints = endpoints;
      record.network = network;
      record.maxProcesses = profile.limits.processes;
      await this.store.save(record);
      lap('create');

      const pid = await this.inLayer('runtime', () => this.runtime.startContainer(containerId));
      lap('start');
      // Host limits and the layers' `started` (egress rules first, in START_ORDER) are independent: side by side,
      // both settled before the sandbox is running.
      if (this.runtime.rootless) undo.push(() => this.runtime.limits.remove(record.id));
      await settled([
        this.runtime.rootless
          ? timed('limits', () =>
              this.inLayer('limits', () => this.runtime.limits.apply(record.id, profile, pid)),
            )
          : Promise.resolve(),
        (async () => {
          for (const hook of this.hooks) {
            if (hook.started)
              await timed(`started:${hook.layer}`, () =>
                this.inLayer(hook.layer, () => hook.started!({ ...ctx, pid, containerId, endpoints })),
              );
          }
        })(),
      ] as const);
      lap('started');
      record.state = 'running';
      delete record.error;
      await this.store.save(record);
      this.logger.info(
        { sandbox: record.name, id: record.id, profile: profile.name, phases },
        'sandbox running',
      );
    } catch (err) {
      for (const step of undo.reverse()) {
        await step().catch((e: unknown) => this.logger.warn({ err: messageOf(e) }, 'rollback step failed'));
      }
      await this.runtime.limits.remove(record.id);
      // A layer that failed because the folder changed under it (moved, swapped for a link) reports that, not
      // its own 5xx: the cause is the caller's.
      if (!(err instanceof AiboxError) || err.status >= 500) await this.checkIdentity(record);
      throw err;
    }
  }

  /**
   * Enforcement stays up until the last sandbox process is gone: the container stops first (if it cannot be
   * stopped, this throws and every layer stays in place), then the layers are released in reverse start order.
   */
  private async tearDown(record: SandboxRecord): Promise<void> {
    if (record.containerId) await this.runtime.stopContainer(record.containerId);
    await this.releaseLayers(record);
  }

  /** Every layer of the sandbox, in reverse start order; only once its container is gone or stopped. */
  private async releaseLayers(record: SandboxRecord): Promise<void> {
    const ctx = this.context(record);
    for (const hook of [...this.hooks].reverse()) {
      await hook
        .stop?.(ctx)
        .catch((e: unknown) => this.logger.warn({ layer: hook.layer, err: messageOf(e) }, 'stop failed'));
    }
    await this.runtime.mounts.unmount(record.id);
    await this.runtime.limits.remove(record.id);
  }

  /**
   * Runs one set-up step; an unexpected failure is reported as that layer's failure — except a file of the project
   * folder that vanished or turned into a link while the layer read it: that is the folder changing under the
   * daemon (the caller's doing, 409), not a fault of the layer.
   */
  private async inLayer<T>(layer: string, step: () => Promise<T>, projectPath?: string): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof AiboxError) {
        if (!err.details?.layer) Object.assign(err, { details: { ...err.details, layer } });
        throw err;
      }
      const e = err as NodeJS.ErrnoException;
      const inProject =
        projectPath !== undefined && (e.path === projectPath || e.path?.startsWith(`${projectPath}/`));
      if (inProject && ['ENOENT', 'ENOTDIR', 'ELOOP'].includes(e.code ?? '')) {
        throw runtimeErrors.create('SANDBOX_PATH_CHANGED', `${layer}: ${messageOf(err)}`, {
          path: projectPath,
          layer,
        });
      }
      throw daemonErrors.create('SANDBOX_LAYER_FAILED', `${layer}: ${messageOf(err)}`, { layer });
    }
  }

  private context(record: SandboxRecord): SandboxHookContext {
    return {
      id: record.id,
      name: record.name,
      path: record.path,
      profile: record.profile,
      logger: this.logger.child({ sandbox: record.name }),
      ...(record.ephemeral ? { ephemeral: true } : {}),
      ...(record.team !== undefined ? { team: record.team } : {}),
      ...(record.noDevcontainer ? { noDevcontainer: true } : {}),
    };
  }

  /**
   * The workspace of a sandbox without a host folder: a fresh tmpfs (size-capped, nosuid, nodev) owned by the
   * sandbox user's host ids, where every other workspace is mounted (mountsDir/<daemon>/<id>/workspace: shared
   * propagation makes it visible to rootless Podman). Removed with the sandbox's other mounts (mounts.unmount).
   */
  private async mountEphemeralWorkspace(sandboxId: string, sizeMiB: number): Promise<string> {
    await this.runtime.mounts.unmount(sandboxId);
    const target = this.runtime.mounts.targetOf(sandboxId);
    await mkdir(target, { recursive: true, mode: 0o755 });
    const ids = this.runtime.sandboxHostIds;
    const options = `size=${sizeMiB}m,mode=0755,uid=${ids.uid},gid=${ids.gid},nosuid,nodev`;
    const r = await execa('mount', ['-t', 'tmpfs', '-o', options, 'aibox-workspace', target], {
      reject: false,
    });
    if (r.exitCode !== 0)
      throw runtimeErrors.create(
        'RUNTIME_WORKSPACE_MOUNT',
        `cannot mount the workspace tmpfs: ${r.stderr.trim()}`,
        {
          path: target,
        },
      );
    return target;
  }

  async requireRunning(name: string): Promise<SandboxRecord & { containerId: string }> {
    const record = await this.find(name);
    if (record.state !== 'running' || !record.containerId) {
      const why = record.error ? `: ${record.error}` : '';
      throw daemonErrors.create('SANDBOX_NOT_RUNNING', `sandbox "${name}" is ${record.state}${why}`, {
        name,
      });
    }
    return record as SandboxRecord & { containerId: string };
  }

  private async isRunning(record: SandboxRecord): Promise<boolean> {
    if (!record.containerId) return false;
    return (await this.runtime.inspect(record.containerId))?.running ?? false;
  }

  private async checkIdentity(record: SandboxRecord): Promise<void> {
    if (record.ephemeral) return; // no host folder to re-check
    if (!record.pathIdentity) {
      record.pathIdentity = (await this.validatePath(record.path)).identity;
      return;
    }
    const info = await probeHostPath(record.path).catch((err: unknown) => {
      if (err instanceof HostPathError && err.refusal === 'symlink')
        throw runtimeErrors.create('SANDBOX_PATH_SYMLINK', err.message, { path: record.path });
      if (err instanceof HostPathError)
        throw runtimeErrors.create('SANDBOX_PATH_CHANGED', err.message, { path: record.path });
      throw err;
    });
    if (identityOf(info) !== record.pathIdentity) {
      throw runtimeErrors.create(
        'SANDBOX_PATH_CHANGED',
        `${record.path} is not the folder sandbox "${record.name}" was created on`,
        { path: record.path },
      );
    }
  }

  private forbidden(): string[] {
    return [...FORBIDDEN_PREFIXES, this.config.stateDir, this.config.runtime.mountsDir];
  }

  /**
   * The project folder, opened without following links (a link at any component is refused), checked on the real
   * path of the opened folder, and — for a caller other than root — reachable, readable and writable by the caller
   * itself (checked with the caller's ids). Returns its identity, re-checked at every start.
   */
  private async validatePath(input: string, caller?: Caller): Promise<{ path: string; identity: string }> {
    if (!path.isAbsolute(input)) {
      throw daemonErrors.create('SANDBOX_PATH_INVALID', `path must be absolute: ${input}`, { path: input });
    }
    const resolved = path.resolve(input);
    const as = caller && caller.uid !== 0 ? { uid: caller.uid, gid: caller.gid } : undefined;
    const info = await probeHostPath(resolved, as).catch((err: unknown) => {
      if (err instanceof HostPathError) {
        const details = { path: resolved };
        if (err.refusal === 'missing')
          throw daemonErrors.create('SANDBOX_PATH_NOT_FOUND', `no such directory: ${resolved}`, details);
        if (err.refusal === 'symlink')
          throw runtimeErrors.create('SANDBOX_PATH_SYMLINK', err.message, details);
        if (err.refusal === 'access' || err.refusal === 'changed')
          throw runtimeErrors.create('SANDBOX_PATH_ACCESS', err.message, details);
      }
      throw err;
    });
    if (!isDirectory(info)) {
      throw daemonErrors.create('SANDBOX_PATH_INVALID', `not a directory: ${resolved}`, { path: resolved });
    }
    if (
      info.real !== resolved ||
      isForbiddenPath(info.real, this.forbidden().slice(FORBIDDEN_PREFIXES.length))
    ) {
      throw daemonErrors.create('SANDBOX_PATH_INVALID', `refusing to mount ${info.real} into a sandbox`, {
        path: resolved,
      });
    }
    if (info.uid === 0) {
      throw runtimeErrors.create(
        'SANDBOX_PATH_ROOT_OWNED',
        `${resolved} is owned by root: the agent's files would land on the host as root's`,
        { path: resolved },
      );
    }
    return { path: resolved, identity: identityOf(info) };
  }

  private async exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (this.busy.has(name)) throw daemonErrors.create('SANDBOX_BUSY', `sandbox "${name}" is busy`, { name });
    const p = work();
    this.busy.set(name, p);
    try {
      return await p;
    } finally {
      this.busy.delete(name);
    }
  }

  private async report(record: SandboxRecord): Promise<SandboxReport> {
    const profile = await loadProfile(this.config.profilesDir, record.profile).catch(() => undefined);
    let state = record.state;
    if (state === 'running' && !(await this.isRunning(record))) {
      // The exit event may still be on its way: release now rather than wait for it.
      if (record.containerId) {
        const inspected = await this.runtime.inspect(record.containerId);
        void this.containerExited({
          containerId: record.containerId,
          sandboxId: record.id,
          exitCode: inspected?.exitCode,
          oom: inspected?.oomKilled ?? false,
        });
      }
      state = 'stopped';
    }
    return {
      id: record.id,
      name: record.name,
      // No host folder: nothing to show (record.path is the daemon's empty stand-in).
      path: record.ephemeral ? '' : record.path,
      profile: record.profile,
      state,
      image: record.image,
      runtime: 'runsc (gVisor)',
      mode: this.config.runtime.mode,
      ...(record.containerId ? { containerId: record.containerId } : {}),
      createdAt: record.createdAt,
      ...(record.error && state !== 'running' ? { reason: record.error } : {}),
      protections: protections(this.config, profile, record),
      endpoints: record.endpoints,
      owner: await this.userNames.name(record.ownerUid),
      ...(state === 'running' ? await this.layerReports(record.id) : {}),
    };
  }

  /** What the layers add to a running sandbox's view (its companion services' health); a failing layer adds nothing. */
  private async layerReports(sandboxId: string): Promise<Partial<SandboxReport>> {
    const out: Partial<SandboxReport> = {};
    for (const h of this.hooks) if (h.report) Object.assign(out, await h.report(sandboxId).catch(() => ({})));
    return out;
  }
}

function protections(
  config: DaemonConfig,
  profile: Profile | undefined,
  record: SandboxRecord,
): Protection[] {
  const l = profile?.limits;
  const on = (layer: string, detail: string): Protection => ({ layer, state: 'on', detail });
  return [
    on('runtime', 'gVisor (runsc): the sandbox talks to a user-space kernel, not the host kernel'),
    on('user', `uid ${config.runtime.sandboxUid}, no sudo, ${config.runtime.mode} Podman`),
    on(
      'filesystem',
      'read-only root; writable: /workspace, home, /tmp (tmpfs); git metadata host git reads and aibox/ read-only; nosuid,nodev',
    ),
    on('capabilities', 'none for commands, no-new-privileges (the exec agent keeps setuid, setgid, kill)'),
    on(
      'seccomp',
      `${profile ? path.basename(profile.seccompPath) : 'profile'} on every process (aibox-exec)`,
    ),
    l
      ? on(
          'limits',
          `${l.memoryMiB} MiB memory, ${l.cpus} CPU, ${l.processes} processes, ${l.pids} host threads`,
        )
      : { layer: 'limits', state: 'off', detail: 'profile missing' },
    record.network
      ? on('network', 'egress only through the policy proxy and the allowlisting DNS')
      : on('network', 'none (no network namespace interface besides loopback)'),
  ];
}

function defaultName(projectPath: string, taken: Set<string>): string {
  const base =
    path
      .basename(projectPath)
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 50) || 'sandbox';
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** A claimer's environment: plain variable names, bounded in count and size (it lands in every exec). */
function checkSessionEnv(env: Record<string, string>): Record<string, string> {
  const entries = Object.entries(env);
  const bad = entries.find(([k, v]) => !/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(k) || typeof v !== 'string');
  const size = entries.reduce((n, [k, v]) => n + k.length + String(v).length, 0);
  if (bad || entries.length > 128 || size > 64 * 1024)
    throw daemonErrors.create(
      'API_BAD_REQUEST',
      bad
        ? `invalid environment variable name "${bad[0]}"`
        : 'the environment is too large (128 variables, 64 KiB)',
      {},
    );
  return { ...env };
}

/**
 * Awaits every promise (none is left running), then throws the first failure in argument order, or returns all the
 * values: steps that ran side by side are all finished before anything is rolled back.
 */
async function settled<T extends readonly unknown[]>(
  steps: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const results = await Promise.allSettled(steps as readonly Promise<unknown>[]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}
