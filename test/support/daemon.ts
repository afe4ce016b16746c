/**
 * Starts a real aiboxd (from the TypeScript sources, through tsx) on a private socket and state directory, so
 * integration tests can run side by side with other daemons. Every sandbox it created is removed by `stop()`.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

import { socketApi, type ApiAnswer } from './socket-api.js';
import { killDaemonSquids, removeDaemonContainers, sweepDaemonGvisor } from './host.js';
import { daemonIdFor } from '../../src/runtime/labels.js';
export type { ApiAnswer };

export interface TestDaemon {
  socket: string;
  stateDir: string;
  dir: string;
  api<T = any>(method: string, route: string, body?: unknown): Promise<ApiAnswer<T>>;
  /** Runs the aibox CLI against this daemon. */
  cli(
    args: string[],
    options?: { input?: string; env?: Record<string, string> },
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  exec(name: string, cmd: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Kills the daemon process without any cleanup (a crash), keeping its state. */
  crash(): Promise<void>;
  /** Starts the daemon again on the same socket and state. */
  restart(): Promise<void>;
  log(): Promise<string>;
  /** Removes every sandbox through the API, stops the daemon and deletes its directory. */
  stop(): Promise<void>;
}

export async function startTestDaemon(
  /** built: run the compiled daemon (dist/bin/aiboxd.js, `npm run build` first) instead of the sources. */
  options: { config?: Record<string, unknown>; name?: string; built?: boolean } = {},
): Promise<TestDaemon> {
  const dir = await mkdtemp(path.join(tmpdir(), `aibox-${options.name ?? 'test'}-`));
  // The rootless Podman user must traverse to the state directory (mkdtemp makes it 0700).
  await chmod(dir, 0o711);
  const stateDir = path.join(dir, 'state');
  const socket = path.join(dir, 'aiboxd.sock');
  const configFile = path.join(dir, 'aiboxd.yaml');
  // Test daemons never take the real SSH port: several run side by side (a suite may still set its own).
  const config = {
    ...options.config,
    sshGateway: { port: 0, ...(options.config?.sshGateway as object | undefined) },
  };
  await writeFile(configFile, stringify(config));
  const logFile = path.join(dir, 'aiboxd.log');
  let child: ResultPromise | undefined;

  const api = <T>(method: string, route: string, body?: unknown) => socketApi<T>(socket, method, route, body);

  const launch = async () => {
    child = execa(
      process.execPath,
      [
        ...(options.built
          ? [path.join(ROOT, 'dist/bin/aiboxd.js')]
          : ['--import', 'tsx', path.join(ROOT, 'src/bin/aiboxd.ts')]),
        '--socket',
        socket,
        '--state-dir',
        stateDir,
        '--config',
        configFile,
      ],
      {
        cwd: ROOT,
        stdout: { file: logFile, append: true },
        stderr: { file: logFile, append: true },
        reject: false,
        cleanup: true,
      },
    );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (existsSync(socket)) {
        const ok = await api('GET', '/v1/version').then(
          (a) => a.status === 200,
          () => false,
        );
        if (ok) return;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const { readFile } = await import('node:fs/promises');
    throw new Error(
      `aiboxd did not start: ${(await readFile(logFile, 'utf8').catch(() => '')).slice(-2000)}`,
    );
  };
  await launch();

  const daemon: TestDaemon = {
    socket,
    stateDir,
    dir,
    api,
    async cli(args, opts = {}) {
      const r = await execa(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'src/bin/aibox.ts'), ...args],
        {
          cwd: ROOT,
          env: { AIBOX_SOCKET: socket, NO_COLOR: '1', ...opts.env },
          input: opts.input ?? '',
          reject: false,
          stripFinalNewline: false,
        },
      );
      return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
    },
    async exec(name, cmd) {
      const a = await api<{ exitCode: number; stdout: string; stderr: string }>(
        'POST',
        `/v1/sandboxes/${name}/exec`,
        { cmd },
      );
      if (a.status !== 200) throw new Error(`exec failed: ${JSON.stringify(a.body)}`);
      return a.body;
    },
    async crash() {
      child?.kill('SIGKILL');
      await child;
    },
    async restart() {
      await launch();
    },
    async log() {
      const { readFile } = await import('node:fs/promises');
      return readFile(logFile, 'utf8').catch(() => '');
    },
    async stop() {
      const list = await api<{ sandboxes: { name: string }[] }>('GET', '/v1/sandboxes').catch(
        () => undefined,
      );
      for (const s of list?.body.sandboxes ?? [])
        await api('DELETE', `/v1/sandboxes/${s.name}`).catch(() => undefined);
      child?.kill('SIGTERM');
      await child;
      const left = await removeDaemonContainers(stateDir, daemonIdFor(stateDir));
      if (left.length) console.warn(`test daemon ${dir}: removed ${left.length} container(s) its API left`);
      // What no API call could reach (a start in flight at SIGTERM keeps its Squid; a crash mid-create can leave
      // gVisor containers Podman lost): never outlive the state folder removed below.
      const lost = await sweepDaemonGvisor(stateDir, daemonIdFor(stateDir)).catch((err: unknown) => {
        console.warn(`test daemon ${dir}: gVisor sweep failed: ${String(err)}`);
        return [];
      });
      if (lost.length)
        console.warn(`test daemon ${dir}: swept ${lost.length} gVisor container(s) Podman lost`);
      const squids = await killDaemonSquids(stateDir);
      if (squids.length)
        console.warn(`test daemon ${dir}: killed ${squids.length} Squid process(es) left running`);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return daemon;
}

/** A throwaway project directory (a git repository with one commit) for a sandbox to work on. */
export async function makeProject(name = 'project'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `aibox-${name}-`));
  await writeFile(path.join(dir, 'README.md'), `# ${name}\n`);
  await execa('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  await execa(
    'git',
    [
      '-c',
      'user.email=t@example.invalid',
      '-c',
      'user.name=t',
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      'init',
    ],
    { cwd: dir },
  );
  // Owned by an unprivileged user, as real projects are: aiboxd refuses root-owned folders (the agent's files would
  // land on the host as root's).
  if (process.getuid?.() === 0) await execa('chown', ['-R', 'aibox:aibox', dir]);
  return dir;
}
