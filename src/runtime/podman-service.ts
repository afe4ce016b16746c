import { mkdir, writeFile, readFile, chown, chmod, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from '../shared/index.js';
import type { RuntimeConfig } from '../config/index.js';
import { runtimeErrors } from './errors.js';
import type { HostUser } from './host-user.js';

/**
 * The daemon's own `podman system service` on a private socket, with its own containers.conf that makes gVisor the
 * default runtime (Podman 4.3's Docker-compatible API ignores HostConfig.Runtime, so the engine default must be runsc).
 * Rootless: the service runs as the unprivileged aibox user; rootful: as root. Either way only aiboxd talks to it.
 */
export class PodmanService {
  readonly socketPath: string;
  private readonly dir: string;
  private child: ResultPromise | undefined;
  private stopping = false;

  constructor(
    private readonly config: RuntimeConfig,
    private readonly user: HostUser | undefined,
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.dir = path.join(stateDir, 'podman');
    this.socketPath = path.join(this.dir, 'podman.sock');
  }

  get rootless(): boolean {
    return this.config.mode === 'rootless';
  }

  /** Environment for any podman command of this daemon (service, import, …). */
  env(): Record<string, string> {
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      CONTAINERS_CONF: path.join(this.dir, 'containers.conf'),
      LANG: 'C.UTF-8',
    };
    if (this.user) {
      env.HOME = this.user.home;
      env.XDG_RUNTIME_DIR = runtimeDirOf(this.user);
      env.USER = this.user.name;
    }
    return env;
  }

  /** uid/gid podman runs as (undefined: root). */
  get runAs(): { uid: number; gid: number } | undefined {
    return this.user ? { uid: this.user.uid, gid: this.user.gid } : undefined;
  }

  async start(): Promise<void> {
    this.stopping = false;
    await this.writeConfig();
    let attempt = await this.launch();
    // Rootless Podman joins its pause process, or else the conmon of a container its database says is running. When
    // none of those processes exists any more (killed with the host's processes, the database left behind), every
    // podman command fails until `podman system migrate` resets those states. Nothing alive can be hurt: this is only
    // reached when no process of this user's containers could be joined. One migrate run stops at the first
    // container runsc no longer knows, so it runs again while it makes progress (bounded).
    for (
      let run = 1;
      !attempt.ready && this.user && attempt.log.includes('system migrate') && run <= 5;
      run++
    ) {
      this.logger.warn(
        { run },
        'rootless podman state is stale (containers recorded as running have no process): resetting it with podman system migrate',
      );
      const migrate = await execa(this.config.podman, ['system', 'migrate'], {
        env: this.env(),
        extendEnv: false,
        ...this.runAs,
        cwd: this.dir,
        reject: false,
      });
      if (migrate.exitCode !== 0)
        this.logger.warn({ stderr: lastLines(migrate.stderr) }, 'podman system migrate did not finish');
      attempt = await this.launch();
    }
    if (!attempt.ready) throw this.notReady(attempt.log);
  }

  private notReady(log: string) {
    return runtimeErrors.create(
      'RUNTIME_PODMAN_SERVICE',
      `podman system service did not answer on ${this.socketPath}: ${lastLines(log)}`,
    );
  }

  /** Starts `podman system service` and waits for it to answer; the log tells why when it does not. */
  private async launch(): Promise<{ ready: boolean; log: string }> {
    await this.killPrevious();
    await rm(this.socketPath, { force: true });
    const logFile = path.join(this.dir, 'service.log');
    this.child = execa(this.config.podman, ['system', 'service', '--time=0', `unix://${this.socketPath}`], {
      env: this.env(),
      extendEnv: false,
      ...this.runAs,
      cwd: this.dir,
      stdin: 'ignore',
      stdout: { file: logFile },
      stderr: { file: logFile },
      reject: false,
      cleanup: true,
    });
    const pid = this.child.pid;
    if (pid) await writeFile(path.join(this.dir, 'service.pid'), `${pid}\n`);
    const child = this.child;
    let answered = false;
    const exited = child.then((r) => {
      // Only a service that answered is restarted; one that never did is the caller's failure to report.
      if (this.stopping || this.child !== child || !answered) return;
      // The sandboxes keep running without it (conmon holds them); the API needs it back.
      this.logger.warn({ exitCode: r.exitCode }, 'podman service exited; restarting it');
      setTimeout(() => {
        if (!this.stopping) {
          this.start().catch((err: unknown) =>
            this.logger.error({ err: String(err) }, 'podman service restart failed'),
          );
        }
      }, 1000);
    });
    const ready = await Promise.race([this.waitReady(15_000), exited.then(() => false)]);
    if (!ready) {
      this.child = undefined;
      child.kill('SIGKILL');
      return { ready: false, log: await readFile(logFile, 'utf8').catch(() => '') };
    }
    answered = true;
    this.logger.info({ socket: this.socketPath, mode: this.config.mode }, 'podman service ready');
    return { ready: true, log: '' };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.child) return;
    this.child.kill('SIGTERM');
    await Promise.race([this.child, new Promise((r) => setTimeout(r, 3000))]);
    this.child.kill('SIGKILL');
    this.child = undefined;
  }

  async ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.get({ socketPath: this.socketPath, path: '/_ping', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
    });
  }

  private async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (existsSync(this.socketPath) && (await this.ping())) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /** A service left by a daemon that crashed would hold the socket: stop it (its containers keep running). */
  private async killPrevious(): Promise<void> {
    const pidFile = path.join(this.dir, 'service.pid');
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!pid) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('system\0service') && cmdline.includes(this.socketPath)) {
      process.kill(pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  private async writeConfig(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const wrapper = path.join(this.dir, 'runsc-wrapper');
    const flags = runscFlags(this.rootless);
    await writeFile(wrapper, `#!/bin/sh\nexec ${this.config.runsc} ${flags.join(' ')} "$@"\n`, {
      mode: 0o755,
    });
    await writeFile(
      path.join(this.dir, 'containers.conf'),
      [
        '# Written by aiboxd at start: gVisor is the default runtime of this private Podman service.',
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]',
        'log_driver = "k8s-file"',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        'runtime = "runsc"',
        '[engine.runtimes]',
        `runsc = ["${wrapper}"]`,
        '',
      ].join('\n'),
    );
    if (this.user) {
      await chown(this.dir, this.user.uid, this.user.gid);
      await chmod(this.dir, 0o700);
      const runtimeDir = runtimeDirOf(this.user);
      await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
      await chown(runtimeDir, this.user.uid, this.user.gid);
      // Rootless Podman reads storage.conf from the user's home; the overlay driver works natively on Linux >= 5.13.
      const confDir = path.join(this.user.home, '.config', 'containers');
      await mkdir(confDir, { recursive: true });
      const storage = path.join(confDir, 'storage.conf');
      if (!existsSync(storage)) await writeFile(storage, '[storage]\ndriver = "overlay"\n');
      for (const p of [path.join(this.user.home, '.config'), confDir, storage]) {
        await chown(p, this.user.uid, this.user.gid);
      }
    }
  }
}

/**
 * The flags aiboxd runs every sandbox with (its runsc wrapper).
 * runsc's own sandbox network fails on these kernels ("root network namespace"): gVisor uses the netns Podman
 * gives it (--network=host). --oci-seccomp makes runsc honour the profile. Rootless cannot manage cgroups.
 * --platform=systrap (runsc's default, kept explicit). Measured on the reference host (bench/density, both
 * platforms in one run, two runs): an idle sandbox costs 2.4-2.5 % of a core under systrap against 0.01-0.03 %
 * under ptrace (50 idle sandboxes take a whole core), with no consistent difference for exec-heavy work. But
 * under ptrace one process going over the memory limit gets the whole sandbox OOM-killed, where systrap loses
 * only that process (test/integration/lifecycle.test.ts): the blast radius of a lone OOM decides. (kvm: /dev/kvm
 * exists on these VMs but the CPU has no nested virtualisation; runsc hangs setting up its machine.)
 * --host-uds=create: the exec agent's socket is created by gVisor in a host folder that aiboxd connects to
 * directly (see exec.ts); sandboxes still cannot open host sockets (that would be `open`).
 * File caching stays runsc's default: the read-only root exclusive, every bind mount (workspace, home, packs)
 * shared, i.e. revalidated with the host at each lookup, so host edits and newly installed packs show at once.
 * bench/build compared in one run (a second sandbox with other flags): a sandbox-wide --dcache=8000 changed npm ci
 * by nothing measurable, and even --file-access-mounts=exclusive (unsafe) took only ~8 % off; see
 * docs/performance.md for where the time goes instead.
 */
export function runscFlags(rootless: boolean): string[] {
  return [
    '--network=host',
    '--host-uds=create',
    '--oci-seccomp',
    '--platform=systrap',
    ...(rootless ? ['--ignore-cgroups'] : []),
  ];
}

export function runtimeDirOf(user: HostUser): string {
  return `/run/aibox/user-${user.uid}`;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ') || 'no output';
}
