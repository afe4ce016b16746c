/**
 * STAND-IN for the container runtime in unit tests: NOT gVisor. It implements the daemon's runtime port
 * (src/daemon/services/runtime-port.ts) in memory, "mounts" a workspace by using the project folder itself, and runs
 * exec commands as plain host processes in that folder, with no isolation whatsoever. Every call is recorded in
 * `calls`, and any step can be made to fail (`failOn`) to test bring-up rollback. Real sandboxes are exercised by
 * the integration tests in test/integration/.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import type { Profile } from '../../src/config/index.js';
import type { BufferedExec, ContainerState, RuntimePort } from '../../src/daemon/services/runtime-port.js';
import type {
  ContainerExit,
  ExecExit,
  ExecOptions,
  ExecSession,
  ManagedContainer,
  ProcessInfo,
  SandboxSpec,
} from '../../src/runtime/index.js';
import { runtimeErrors } from '../../src/runtime/errors.js';

const osSignals = constants.signals as Record<string, number>;

/** The runtime steps a test can make fail. */
export type FakeStep =
  'mountWorkspace' | 'prepareMounts' | 'compileSeccomp' | 'createContainer' | 'startContainer' | 'exec';

export interface FakeContainer {
  id: string;
  spec: SandboxSpec;
  running: boolean;
  exitCode: number;
  pid: number;
}

export class FakeRuntime implements RuntimePort {
  readonly daemonId: string;
  readonly rootless = false;
  readonly user = undefined;
  readonly sandboxHostIds = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  /** Every call, in order: `createContainer box`, `exec box echo hi`, `stopContainer box`, … */
  readonly calls: string[] = [];
  readonly containers = new Map<string, FakeContainer>();
  /** Workspace source folder per sandbox id (what mountWorkspace was given). */
  readonly workspaces = new Map<string, string>();
  /** Steps that throw the next time they run (each once). */
  private readonly failures = new Map<FakeStep, Error>();
  private readonly exitListeners = new Set<(exit: ContainerExit) => void>();
  private next = 1;
  /** What `podman.ping()` and `image.present()` answer. */
  podmanUp = true;
  imagePresent = true;
  /** Running exec children per container (what `processes` lists, beside a root aibox-exec at pid 1). */
  private readonly running = new Map<string, Map<number, { cmd: string; kill(sig: NodeJS.Signals): void }>>();

  constructor(private readonly stateDir: string) {
    // The same id the real runtime derives from the state directory.
    this.daemonId = createHash('sha256').update(stateDir).digest('hex').slice(0, 12);
  }

  /** Makes `step` throw `error` the next time it runs. */
  failOn(step: FakeStep, error: Error = new Error(`fake ${step} failure`)): void {
    this.failures.set(step, error);
  }

  /** The container of a sandbox (by its name), if one exists. */
  containerOf(name: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.spec.name === name);
  }

  /** Ends a container as if its process died (an OOM kill with code 137, a crash): the exit watchers are told. */
  kill(name: string, exitCode = 137, oom = false): void {
    const c = this.containerOf(name);
    if (!c) throw new Error(`no container for ${name}`);
    c.running = false;
    c.exitCode = exitCode;
    for (const l of this.exitListeners) l({ containerId: c.id, sandboxId: c.spec.id, exitCode, oom });
  }

  readonly podman = {
    ping: () => Promise.resolve(this.podmanUp),
    socketPath: '/nonexistent/fake-podman.sock',
  };

  readonly image = {
    reference: () => Promise.resolve('localhost/aibox-base:fake'),
    present: () => Promise.resolve(this.imagePresent),
    build: () => Promise.resolve({ image: 'localhost/aibox-base:fake', cached: true }),
  };

  readonly mounts = {
    unmount: (sandboxId: string) => {
      this.calls.push(`unmount ${sandboxId}`);
      this.workspaces.delete(sandboxId);
      return Promise.resolve();
    },
    list: () => Promise.resolve([...this.workspaces.keys()]),
    targetOf: (sandboxId: string) => path.join(this.stateDir, 'fake-mounts', sandboxId, 'workspace'),
  };

  readonly limits = {
    available: () => true,
    apply: (_id: string, _profile: Profile, _pid: number) => Promise.resolve(),
    remove: (_id: string) => Promise.resolve(),
    oomKills: (_id: string) => Promise.resolve(0),
  };

  start(): Promise<void> {
    this.calls.push('start');
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.calls.push('stop');
    this.exitListeners.clear();
    return Promise.resolve();
  }

  async mountWorkspace(sandboxId: string, source: string): Promise<string> {
    this.step('mountWorkspace', sandboxId);
    this.workspaces.set(sandboxId, source);
    return Promise.resolve(source);
  }

  async prepareMounts(sandboxId: string, items: { source: string }[]): Promise<string[]> {
    this.step('prepareMounts', sandboxId);
    return Promise.resolve(items.map((i) => i.source));
  }

  watchExits(onExit: (exit: ContainerExit) => void): () => void {
    this.exitListeners.add(onExit);
    return () => this.exitListeners.delete(onExit);
  }

  async compileSeccomp(_profile: Profile, outFile: string): Promise<void> {
    this.step('compileSeccomp', path.basename(path.dirname(outFile)));
    await writeFile(outFile, '');
  }

  async createContainer(spec: SandboxSpec): Promise<string> {
    this.step('createContainer', spec.name);
    const id = `fake${String(this.next++).padStart(8, '0')}`;
    this.containers.set(id, { id, spec, running: false, exitCode: 0, pid: 0 });
    return Promise.resolve(id);
  }

  async startContainer(containerId: string): Promise<number> {
    const c = this.require(containerId);
    this.step('startContainer', c.spec.name);
    c.running = true;
    c.pid = process.pid;
    return Promise.resolve(c.pid);
  }

  inspect(containerId: string): Promise<ContainerState | undefined> {
    const c = this.containers.get(containerId);
    return Promise.resolve(
      c && {
        running: c.running,
        pid: c.running ? c.pid : 0,
        status: c.running ? 'running' : 'exited',
        exitCode: c.exitCode,
        oomKilled: false,
      },
    );
  }

  stopContainer(containerId: string): Promise<void> {
    const c = this.containers.get(containerId);
    this.calls.push(`stopContainer ${c?.spec.name ?? containerId}`);
    if (c) c.running = false;
    return Promise.resolve();
  }

  removeContainer(containerId: string): Promise<void> {
    const c = this.containers.get(containerId);
    this.calls.push(`removeContainer ${c?.spec.name ?? containerId}`);
    this.containers.delete(containerId);
    return Promise.resolve();
  }

  listManaged(daemonId: string): Promise<ManagedContainer[]> {
    if (daemonId !== this.daemonId) return Promise.resolve([]);
    return Promise.resolve(
      [...this.containers.values()].map((c) => ({
        containerId: c.id,
        sandboxId: c.spec.id,
        name: c.spec.name,
        running: c.running,
        pid: c.running ? c.pid : 0,
      })),
    );
  }

  /** Runs the command on the host, in the sandbox's project folder (/workspace), with the exec's environment. */
  async exec(containerId: string, options: ExecOptions): Promise<ExecSession> {
    const c = this.require(containerId);
    this.step('exec', `${c.spec.name} ${options.cmd.join(' ')}`);
    const [file, ...args] = options.cmd;
    const child = spawn(file!, args, {
      cwd: this.hostDir(c, options.workdir),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: c.spec.home, ...c.spec.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    child.stdout.pipe(stdout);
    child.stderr.pipe(stderr);
    const stdin = new PassThrough();
    stdin.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    if (!options.stdin) stdin.end();
    const procs =
      this.running.get(containerId) ?? new Map<number, { cmd: string; kill(sig: NodeJS.Signals): void }>();
    this.running.set(containerId, procs);
    if (child.pid) procs.set(child.pid, { cmd: options.cmd.join(' '), kill: (sig) => child.kill(sig) });
    let timedOut = false;
    const timer =
      options.timeoutMs && options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs)
        : undefined;
    const result = new Promise<ExecExit>((resolve) => {
      child.on('error', () => resolve({ code: 127, timedOut: false }));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (child.pid) procs.delete(child.pid);
        const sig = signal ? (osSignals[signal] ?? 9) : 0;
        resolve({
          code: code ?? 128 + sig,
          ...(signal ? { signal: signal.replace(/^SIG/, '') } : {}),
          timedOut,
        });
      });
    });
    const exit = result.then((r) => r.code);
    return {
      stdin,
      stdout,
      stderr,
      exit,
      result,
      ...(child.pid ? { pid: child.pid } : {}),
      resize: () => Promise.resolve(),
    };
  }

  /** The container's running execs (host pids), and a root `aibox-exec` at pid 1 like the real sandbox's. */
  processes(containerId: string): Promise<ProcessInfo[]> {
    this.require(containerId);
    const uid = process.getuid?.() ?? 1000;
    const list: ProcessInfo[] = [{ pid: 1, ppid: 0, pgid: 1, uid: 0, state: 'S', cmd: 'aibox-exec' }];
    for (const [pid, p] of this.running.get(containerId) ?? []) {
      list.push({ pid, ppid: 1, pgid: pid, uid: uid === 0 ? 1000 : uid, state: 'S', cmd: p.cmd });
    }
    return Promise.resolve(list);
  }

  killProcess(containerId: string, pid: number, signal: string | number): Promise<void> {
    this.require(containerId);
    this.calls.push(`killProcess ${containerId} ${pid} ${signal}`);
    const p = this.running.get(containerId)?.get(pid);
    if (!p)
      return Promise.reject(
        runtimeErrors.create('RUNTIME_PROCESS_NOT_FOUND', `no process ${pid} in the sandbox`),
      );
    p.kill(`SIG${String(signal)}` as NodeJS.Signals);
    return Promise.resolve();
  }

  async execBuffered(containerId: string, options: ExecOptions): Promise<BufferedExec> {
    const session = await this.exec(containerId, { ...options, stdin: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    session.stdout.on('data', (b: Buffer) => out.push(b));
    session.stderr.on('data', (b: Buffer) => err.push(b));
    const exitCode = await session.exit;
    const timedOut = (await session.result)?.timedOut ?? false;
    return {
      exitCode,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      truncated: false,
      timedOut,
    };
  }

  logs(_containerId: string): Promise<string> {
    return Promise.resolve('');
  }

  private hostDir(c: FakeContainer, workdir: string | undefined): string {
    const workspace = this.workspaces.get(c.spec.id) ?? c.spec.workspace;
    if (!workdir || workdir === '/workspace') return workspace;
    if (workdir.startsWith('/workspace/')) return path.join(workspace, workdir.slice('/workspace/'.length));
    return workdir;
  }

  private require(containerId: string): FakeContainer {
    const c = this.containers.get(containerId);
    if (!c) throw new Error(`no such container ${containerId}`);
    return c;
  }

  private step(step: FakeStep, detail: string): void {
    this.calls.push(`${step} ${detail}`);
    const failure = this.failures.get(step);
    if (failure) {
      this.failures.delete(step);
      throw failure;
    }
  }
}
