import { chown, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadProfile, type DaemonConfig, type Profile } from '../../config/index.js';
import {
  runtimeErrors,
  type SandboxRuntime,
  type ExecOptions,
  type ExecSession,
  type Mount,
} from '../../runtime/index.js';
import {
  AiboxError,
  SANDBOX_NAME_PATTERN,
  messageOf,
  newId,
  type CreateSandboxRequest,
  type Logger,
  type Protection,
  type SandboxReport,
} from '../../shared/index.js';
import { daemonErrors } from '../errors.js';
import type { SandboxStore } from '../state/sandbox-store.js';
import { type SandboxRecord } from '../state/sandbox-store.js';
import type { SandboxContribution, SandboxHook, SandboxHookContext } from './hooks.js';

type Undo = () => Promise<unknown>;

/** Exec options as callers give them; the sandbox's profile adds its limits. */
export type SandboxExecOptions = Omit<ExecOptions, 'maxProcesses'>;

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Host directories a sandbox may never be started on. */
const FORBIDDEN_PATHS = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/proc',
  '/root/.ssh',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/var',
]);

/**
 * The sandbox lifecycle: validate, set up every enforcement layer, start, exec, stop, remove, re-adopt.
 * Start-up is all-or-nothing: each step registers how to undo itself, and any failure undoes them all (fail closed).
 */
export class SandboxService {
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly config: DaemonConfig,
    private readonly runtime: SandboxRuntime,
    private readonly store: SandboxStore,
    private readonly hooks: SandboxHook[],
    readonly daemonId: string,
    private readonly logger: Logger,
  ) {}

  async list(): Promise<SandboxReport[]> {
    const records = await this.store.list();
    return Promise.all(records.map((r) => this.report(r)));
  }

  async get(name: string): Promise<SandboxReport> {
    return this.report(await this.find(name));
  }

  async find(name: string): Promise<SandboxRecord> {
    const record = (await this.store.list()).find((r) => r.name === name);
    if (!record) throw daemonErrors.create('SANDBOX_NOT_FOUND', `no sandbox named "${name}"`, { name });
    return record;
  }

  async create(request: CreateSandboxRequest): Promise<SandboxReport> {
    const projectPath = await this.validatePath(request.path);
    const profile = await loadProfile(this.config.profilesDir, request.profile);
    const existing = await this.store.list();
    const name = request.name ?? defaultName(projectPath, new Set(existing.map((r) => r.name)));
    if (!SANDBOX_NAME_PATTERN.test(name)) {
      throw daemonErrors.create('SANDBOX_NAME_INVALID', `invalid sandbox name "${name}"`, { name });
    }
    if (existing.some((r) => r.name === name)) {
      throw daemonErrors.create('SANDBOX_NAME_TAKEN', `a sandbox named "${name}" already exists`, { name });
    }
    if (!(await this.runtime.podman.ping())) {
      throw runtimeErrors.create('RUNTIME_PODMAN_SERVICE', 'the private podman service does not answer', {
        layer: 'runtime',
      });
    }
    if (!(await this.runtime.image.present())) {
      throw runtimeErrors.create('RUNTIME_IMAGE_MISSING', 'the base image is not built', {
        layer: 'runtime',
      });
    }
    const record: SandboxRecord = {
      id: newId('sbx'),
      name,
      path: projectPath,
      profile: profile.name,
      state: 'creating',
      image: await this.runtime.image.reference(),
      createdAt: new Date().toISOString(),
      ownerUid: 0, // set from the caller once create() receives one
      env: {},
      endpoints: {},
      network: false,
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
    return this.runtime.exec(record.containerId, await this.withLimits(record, options));
  }

  async execBuffered(name: string, options: SandboxExecOptions) {
    const record = await this.requireRunning(name);
    return this.runtime.execBuffered(record.containerId, await this.withLimits(record, options));
  }

  private async withLimits(record: SandboxRecord, options: SandboxExecOptions): Promise<ExecOptions> {
    const maxProcesses =
      record.maxProcesses ?? (await loadProfile(this.config.profilesDir, record.profile)).limits.processes;
    return { ...options, maxProcesses };
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
   * container is gone as stopped, and sweep what no record claims (containers, mounts, cgroups).
   */
  async adoptAndSweep(): Promise<{ adopted: string[]; swept: string[] }> {
    const records = await this.store.list();
    const containers = await this.runtime.listManaged(this.daemonId);
    const adopted: string[] = [];
    const swept: string[] = [];
    for (const record of records) {
      const container = containers.find((c) => c.sandboxId === record.id);
      if (record.state === 'creating' || (container && !container.running)) {
        // A crash mid-start, or a sandbox that died while we were away: its layers cannot be trusted.
        await this.tearDown(record).catch(() => undefined);
        if (record.state === 'creating') {
          if (container) await this.runtime.removeContainer(container.containerId);
          await this.store.remove(record.id);
          swept.push(record.name);
          continue;
        }
        record.state = 'stopped';
        await this.store.save(record);
        continue;
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
          adopted.push(record.name);
        } catch (err) {
          this.logger.error(
            { sandbox: record.name, err: messageOf(err) },
            'cannot re-adopt; stopping it (fail closed)',
          );
          await this.tearDown(record).catch(() => undefined);
          record.state = 'stopped';
          record.error = messageOf(err);
          await this.store.save(record);
        }
        continue;
      }
      if (record.state === 'running' && !container) {
        await this.tearDown(record).catch(() => undefined);
        record.state = 'stopped';
        await this.store.save(record);
      }
    }
    const known = new Set((await this.store.list()).map((r) => r.id));
    for (const c of containers) {
      if (!known.has(c.sandboxId)) {
        await this.runtime.removeContainer(c.containerId);
        swept.push(c.name || c.sandboxId);
      }
    }
    const recordsOfAllDaemons = known;
    for (const id of await this.runtime.mounts.list()) {
      if (!recordsOfAllDaemons.has(id) && !(await this.ownedByAnotherDaemon(id))) {
        await this.runtime.mounts.unmount(id).catch(() => undefined);
      }
    }
    this.logger.info({ adopted, swept }, 'adopted running sandboxes and swept leftovers');
    return { adopted, swept };
  }

  private async ownedByAnotherDaemon(sandboxId: string): Promise<boolean> {
    // Several daemons (tests, side-by-side installs) share the mounts directory: only sweep a mount whose container
    // is gone everywhere.
    const all = await this.runtime.docker
      .listContainers({ all: true, filters: { label: [`io.aibox.sandbox.id=${sandboxId}`] } })
      .catch(() => []);
    return all.length > 0;
  }

  private async bringUp(record: SandboxRecord, profile: Profile): Promise<void> {
    const undo: Undo[] = [];
    const ctx = this.context(record);
    try {
      const contributions: SandboxContribution[] = [];
      for (const hook of this.hooks) {
        if (hook.prepare) contributions.push(await this.inLayer(hook.layer, () => hook.prepare!(ctx)));
        undo.push(() => hook.stop?.(ctx) ?? Promise.resolve());
      }
      const env = Object.assign({}, ...contributions.map((c) => c.env ?? {})) as Record<string, string>;
      const endpoints = Object.assign({}, ...contributions.map((c) => c.endpoints ?? {})) as Record<
        string,
        string
      >;
      const extraMounts: Mount[] = contributions.flatMap((c) => c.mounts ?? []);
      const readOnlyPaths = [...new Set(contributions.flatMap((c) => c.readOnlyPaths ?? []))];
      const network = contributions.some((c) => c.network === true);

      const workspace = await this.inLayer('workspace', () =>
        this.runtime.mountWorkspace(record.id, record.path),
      );
      undo.push(() => this.runtime.mounts.unmount(record.id));
      const dir = this.store.dirOf(record.id);
      const home = path.join(dir, 'home');
      await mkdir(home, { recursive: true, mode: 0o750 });
      const ids = this.runtime.sandboxHostIds;
      await chown(home, ids.uid, ids.gid);
      const seccompBpf = path.join(dir, 'seccomp.bpf');
      await this.inLayer('seccomp', () => this.runtime.compileSeccomp(profile, seccompBpf));

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

      const pid = await this.inLayer('runtime', () => this.runtime.startContainer(containerId));
      if (this.runtime.rootless) {
        await this.inLayer('limits', () => this.runtime.limits.apply(record.id, profile, pid));
        undo.push(() => this.runtime.limits.remove(record.id));
      }
      for (const hook of this.hooks) {
        if (hook.started)
          await this.inLayer(hook.layer, () => hook.started!({ ...ctx, pid, containerId, endpoints }));
      }
      record.state = 'running';
      delete record.error;
      await this.store.save(record);
      this.logger.info({ sandbox: record.name, id: record.id, profile: profile.name }, 'sandbox running');
    } catch (err) {
      for (const step of undo.reverse()) {
        await step().catch((e: unknown) => this.logger.warn({ err: messageOf(e) }, 'rollback step failed'));
      }
      await this.runtime.limits.remove(record.id);
      throw err;
    }
  }

  private async tearDown(record: SandboxRecord): Promise<void> {
    const ctx = this.context(record);
    for (const hook of [...this.hooks].reverse()) {
      await hook
        .stop?.(ctx)
        .catch((e: unknown) => this.logger.warn({ layer: hook.layer, err: messageOf(e) }, 'stop failed'));
    }
    if (record.containerId) await this.runtime.stopContainer(record.containerId);
    await this.runtime.mounts.unmount(record.id);
    await this.runtime.limits.remove(record.id);
  }

  /** Runs one set-up step; an unexpected failure is reported as that layer's failure. */
  private async inLayer<T>(layer: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof AiboxError) {
        if (!err.details?.layer) Object.assign(err, { details: { ...err.details, layer } });
        throw err;
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
    };
  }

  async requireRunning(name: string): Promise<SandboxRecord & { containerId: string }> {
    const record = await this.find(name);
    if (record.state !== 'running' || !record.containerId) {
      throw daemonErrors.create('SANDBOX_NOT_RUNNING', `sandbox "${name}" is ${record.state}`, { name });
    }
    return record as SandboxRecord & { containerId: string };
  }

  private async isRunning(record: SandboxRecord): Promise<boolean> {
    if (!record.containerId) return false;
    return (await this.runtime.inspect(record.containerId))?.running ?? false;
  }

  private async validatePath(input: string): Promise<string> {
    if (!path.isAbsolute(input)) {
      throw daemonErrors.create('SANDBOX_PATH_INVALID', `path must be absolute: ${input}`, { path: input });
    }
    const resolved = path.resolve(input);
    const info = await stat(resolved).catch(() => undefined);
    if (!info)
      throw daemonErrors.create('SANDBOX_PATH_NOT_FOUND', `no such directory: ${resolved}`, {
        path: resolved,
      });
    if (!info.isDirectory()) {
      throw daemonErrors.create('SANDBOX_PATH_INVALID', `not a directory: ${resolved}`, { path: resolved });
    }
    if (FORBIDDEN_PATHS.has(resolved) || resolved.startsWith(this.config.stateDir)) {
      throw daemonErrors.create('SANDBOX_PATH_INVALID', `refusing to mount ${resolved} into a sandbox`, {
        path: resolved,
      });
    }
    return resolved;
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
    if (state === 'running' && !(await this.isRunning(record))) state = 'stopped';
    return {
      id: record.id,
      name: record.name,
      path: record.path,
      profile: record.profile,
      state,
      image: record.image,
      runtime: 'runsc (gVisor)',
      mode: this.config.runtime.mode,
      ...(record.containerId ? { containerId: record.containerId } : {}),
      createdAt: record.createdAt,
      protections: protections(this.config, profile, record),
      endpoints: record.endpoints,
    };
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
      'read-only root; writable: /workspace, home, /tmp (tmpfs); .git/hooks and .git/config read-only',
    ),
    on('capabilities', 'all dropped, no-new-privileges'),
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
