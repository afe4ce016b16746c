import { chmod, chown, mkdir, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import Docker from 'dockerode';
import { processAlive, type Logger } from '../shared/index.js';
import type { Profile } from '../config/index.js';
import type { RuntimeConfig } from '../config/index.js';
import { runtimeErrors } from './errors.js';
import { firstSubordinateId, lookupHostUser, type HostUser } from './host-user.js';
import { PodmanService } from './podman-service.js';
import { BaseImage } from './base-image.js';
import { WorkspaceMounts, type IdShift } from './workspace-mount.js';
import { ExitWatcher, type ContainerExit } from './exit-watcher.js';
import { SandboxLimits } from './limits.js';
import { containerSpec, type SandboxSpec } from './container-spec.js';
import { AgentChannels, type ExecOptions, type ExecSession, type ProcessInfo } from './exec.js';
import { LABELS, daemonIdFor } from './labels.js';
import { sweepLostGvisor } from './runsc-sweep.js';
import { removeContainerRetrying } from './remove-container.js';

/** The agent's socket, in its folder (AGENT_DIR inside). */
const AGENT_SOCKET = 'agent.sock';

const SECCOMP_COMPILER = fileURLToPath(new URL('../../libexec/seccomp-bpf.py', import.meta.url));

export interface ManagedContainer {
  containerId: string;
  sandboxId: string;
  name: string;
  running: boolean;
  pid: number;
}

/**
 * Everything aiboxd does with containers: its private Podman service (dockerode over the Docker-compatible API),
 * the base image, idmapped workspace mounts and cgroup limits. One instance per daemon.
 */
export class SandboxRuntime {
  readonly podman: PodmanService;
  readonly docker: Docker;
  readonly image: BaseImage;
  readonly mounts: WorkspaceMounts;
  readonly limits: SandboxLimits;
  /** This daemon's id: in every container label and in the mounts path (mountsDir/<daemonId>/…). */
  readonly daemonId: string;
  private readonly watchers = new Set<ExitWatcher>();
  /** Each sandbox's exec agent connection (see exec.ts and libexec/aibox-agent.c). */
  private readonly agents: AgentChannels;
  /** Host folder holding one folder per sandbox, bind-mounted at AGENT_DIR (the agent's socket). */
  private readonly agentsRoot: string;
  private readonly sandboxOfContainer = new Map<string, string>();

  private constructor(
    readonly config: RuntimeConfig,
    readonly user: HostUser | undefined,
    private readonly shift: IdShift,
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.agentsRoot = path.join(stateDir, 'agents');
    this.agents = new AgentChannels({
      socketOf: async (containerId) =>
        path.join(this.agentDir(await this.sandboxOf(containerId)), AGENT_SOCKET),
      unreachable: (containerId, err) => this.agentUnreachable(containerId, err),
      commandUser: { uid: config.sandboxUid, gid: config.sandboxUid },
    });
    this.podman = new PodmanService(config, user, stateDir, logger);
    this.docker = new Docker({ socketPath: this.podman.socketPath });
    this.image = new BaseImage(config, this.docker, this.podman, logger);
    this.daemonId = daemonIdFor(stateDir);
    this.mounts = new WorkspaceMounts(config.mountsDir, this.daemonId);
    this.limits = new SandboxLimits();
  }

  static async create(config: RuntimeConfig, stateDir: string, logger: Logger): Promise<SandboxRuntime> {
    if (config.mode === 'rootless') {
      const user = await lookupHostUser(config.user);
      const subuid = await firstSubordinateId('/etc/subuid', config.user);
      // keep-id maps the sandbox uid to the aibox user; container root is the first subordinate id.
      const shift = { sandboxUser: user.uid, sandboxGroup: user.gid, containerRoot: subuid };
      return new SandboxRuntime(config, user, shift, stateDir, logger);
    }
    const shift = { sandboxUser: config.sandboxUid, sandboxGroup: config.sandboxUid, containerRoot: 0 };
    return new SandboxRuntime(config, undefined, shift, stateDir, logger);
  }

  get rootless(): boolean {
    return this.config.mode === 'rootless';
  }

  /** Host ids that appear as the sandbox user inside (owner of its home directory, for instance). */
  get sandboxHostIds(): { uid: number; gid: number } {
    return { uid: this.shift.sandboxUser, gid: this.shift.sandboxGroup };
  }

  async start(): Promise<void> {
    const { created } = await this.mounts.ensureSharedRoot();
    if (created && this.user) await this.restartPauseProcess(this.user);
    await this.podman.start();
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.close();
    this.watchers.clear();
    this.agents.closeAll();
    await this.podman.stop();
    // This daemon's mounts folder, if nothing is left in it (never a recursive delete).
    await rmdir(this.mounts.root).catch(() => undefined);
  }

  /**
   * Mounts the project folder (opened without following links) as the sandbox's workspace. `expect` is its
   * identity recorded at create; `forbid` the host places no sandbox may ever get.
   */
  async mountWorkspace(
    sandboxId: string,
    source: string,
    opts: { expect: string; forbid: string[] },
  ): Promise<string> {
    return this.mounts.mount(sandboxId, source, this.shift, opts);
  }

  /** Makes host paths bindable from no-follow fds (see WorkspaceMounts.prepare); returns aiboxd's mounts of them. */
  async prepareMounts(
    sandboxId: string,
    items: { source: string; readOnly: boolean; forbid: string[] }[],
  ): Promise<string[]> {
    return this.mounts.prepare(sandboxId, items);
  }

  /** Calls `onExit` whenever one of this daemon's containers exits, until the runtime stops. */
  watchExits(onExit: (exit: ContainerExit) => void): () => void {
    const watcher = new ExitWatcher(this.docker, this.daemonId, onExit, this.logger);
    this.watchers.add(watcher);
    watcher.start();
    return () => {
      watcher.close();
      this.watchers.delete(watcher);
    };
  }

  async compileSeccomp(profile: Profile, outFile: string): Promise<void> {
    const r = await execa('/usr/bin/python3', [SECCOMP_COMPILER, profile.seccompPath, outFile], {
      reject: false,
    });
    if (r.exitCode !== 0) {
      throw runtimeErrors.create(
        'RUNTIME_SECCOMP',
        `cannot compile ${profile.seccompPath}: ${r.stderr.trim()}`,
      );
    }
  }

  async createContainer(spec: SandboxSpec): Promise<string> {
    const agentDir = await this.makeAgentDir(spec.id);
    try {
      const container = await this.docker.createContainer(containerSpec(spec, agentDir));
      this.sandboxOfContainer.set(container.id, spec.id);
      return container.id;
    } catch (err) {
      throw runtimeErrors.create('RUNTIME_CONTAINER', `cannot create the container: ${messageOf(err)}`);
    }
  }

  /** Starts the container, opens its exec agent's channel, and returns the host pid of its sandbox process. */
  async startContainer(containerId: string): Promise<number> {
    const container = this.docker.getContainer(containerId);
    try {
      await container.start();
    } catch (err) {
      throw runtimeErrors.create('RUNTIME_CONTAINER', `cannot start the container: ${messageOf(err)}`);
    }
    const info = await container.inspect();
    if (!info.State.Running || !info.State.Pid) {
      throw runtimeErrors.create('RUNTIME_CONTAINER', `the container exited at once (${info.State.Status})`);
    }
    // Not running until its agent answers: every command goes through it.
    await this.agents.open(containerId);
    return info.State.Pid;
  }

  async inspect(
    containerId: string,
  ): Promise<
    { running: boolean; pid: number; status: string; exitCode: number; oomKilled: boolean } | undefined
  > {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      return {
        running: info.State.Running,
        pid: info.State.Pid,
        status: info.State.Status,
        exitCode: info.State.ExitCode,
        oomKilled: info.State.OOMKilled,
      };
    } catch {
      return undefined;
    }
  }

  async stopContainer(containerId: string): Promise<void> {
    this.agents.forget(containerId);
    await this.docker
      .getContainer(containerId)
      .stop({ t: this.config.stopTimeoutSeconds })
      .catch((err: unknown) => {
        if (!/not running|304|no such/i.test(messageOf(err))) throw err;
      });
  }

  async removeContainer(containerId: string): Promise<void> {
    this.agents.forget(containerId);
    const sandboxId = await this.sandboxOf(containerId).catch(() => undefined);
    await removeContainerRetrying(this.docker, containerId, (attempt, err) =>
      this.logger.warn({ containerId, attempt, err: messageOf(err) }, 'container removal refused; retrying'),
    );
    this.sandboxOfContainer.delete(containerId);
    if (sandboxId) await rm(this.agentDir(sandboxId), { recursive: true, force: true });
  }

  /** This daemon's gVisor containers Podman lost (runsc-sweep.ts), removed; their sandbox ids where known. */
  async sweepLost(): Promise<string[]> {
    const swept = await sweepLostGvisor(this, path.dirname(this.agentsRoot), this.logger);
    return swept.map((c) => c.sandboxId ?? c.id);
  }

  async listManaged(daemonId: string): Promise<ManagedContainer[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.managed}=true`, `${LABELS.daemon}=${daemonId}`] },
    });
    return Promise.all(
      list.map(async (c): Promise<ManagedContainer> => {
        const state = await this.inspect(c.Id);
        return {
          containerId: c.Id,
          sandboxId: c.Labels[LABELS.sandboxId] ?? '',
          name: c.Labels[LABELS.sandboxName] ?? '',
          // Podman's database can say "running" for a container whose processes were all killed (its state is only
          // updated by conmon, which died with them): only a live sandbox process counts.
          running: (state?.running ?? false) && processAlive(state!.pid),
          pid: state?.pid ?? 0,
        };
      }),
    );
  }

  /** Runs a command through the sandbox's agent (never `podman exec`). */
  async exec(containerId: string, options: ExecOptions): Promise<ExecSession> {
    return this.agents.exec(containerId, options);
  }

  async execBuffered(containerId: string, options: ExecOptions) {
    return this.agents.execBuffered(containerId, options);
  }

  /** Every process running in the sandbox (but its agent). */
  async processes(containerId: string): Promise<ProcessInfo[]> {
    return this.agents.processes(containerId);
  }

  /** Signals one process of the sandbox (not the agent, not a root process). */
  async killProcess(containerId: string, pid: number, signal: string | number): Promise<void> {
    return this.agents.kill(containerId, pid, signal);
  }

  /** Round trip to the sandbox's agent in ms (health check). */
  async pingAgent(containerId: string): Promise<number> {
    return this.agents.ping(containerId);
  }

  private agentDir(sandboxId: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(sandboxId)) throw new Error(`invalid sandbox id ${sandboxId}`);
    return path.join(this.agentsRoot, sandboxId);
  }

  /**
   * The host side of the agent's socket folder: owned by the container's root (the agent's uid) with mode 0700,
   * so inside only the agent can reach its socket. gVisor creates the socket itself (runsc --host-uds=create).
   */
  private async makeAgentDir(sandboxId: string): Promise<string> {
    await mkdir(this.agentsRoot, { recursive: true, mode: 0o711 });
    await chmod(this.agentsRoot, 0o711);
    const dir = this.agentDir(sandboxId);
    if (path.join(dir, AGENT_SOCKET).length > 100) {
      throw runtimeErrors.create(
        'RUNTIME_CONTAINER',
        `state directory too long for a unix socket path: ${dir}`,
      );
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, this.shift.containerRoot, this.shift.containerRoot);
    return dir;
  }

  private async sandboxOf(containerId: string): Promise<string> {
    const known = this.sandboxOfContainer.get(containerId);
    if (known) return known;
    const info = await this.docker.getContainer(containerId).inspect();
    const id = info.Config.Labels?.[LABELS.sandboxId];
    if (!id) throw runtimeErrors.create('RUNTIME_CONTAINER', `container ${containerId} is not a sandbox`);
    this.sandboxOfContainer.set(containerId, id);
    return id;
  }

  /** A running sandbox whose agent cannot be reached is stopped (its exit is then reported like any other). */
  private async agentUnreachable(containerId: string, err: Error): Promise<void> {
    const state = await this.inspect(containerId);
    if (!state?.running) return;
    this.logger.error(
      { containerId, err: err.message },
      'exec agent unreachable; stopping the sandbox (fail closed)',
    );
    await this.docker
      .getContainer(containerId)
      .kill({ signal: 'SIGKILL' })
      .catch(() => undefined);
  }

  async logs(containerId: string): Promise<string> {
    const buf = await this.docker
      .getContainer(containerId)
      .logs({ stdout: true, stderr: true, follow: false });
    return buf.toString('utf8');
  }

  /**
   * Rootless Podman keeps a "pause" process whose mount namespace every container joins. If it started before the
   * shared mounts directory existed, it would never see the workspace mounts: stop it so the next call re-creates it.
   */
  private async restartPauseProcess(user: HostUser): Promise<void> {
    await execa('pkill', ['-u', String(user.uid), '-f', 'catatonit -P'], { reject: false });
    this.logger.info('restarted the rootless podman pause process so it sees the workspace mounts');
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
