/**
 * The REAL aiboxd composition root (startDaemon: every service, route, error mapping and access check) in this
 * process, over FakeRuntime (test/support/fake-runtime.ts) instead of gVisor, on a temporary state directory and
 * unix socket. Root-only layers are off the fail-closed way: the egress layer enforces nothing, so no sandbox gets
 * a network (`network: 'none'`); the SSH gateway listens on a free loopback port. Exec runs host processes in the
 * project folder (no isolation: unit tests only).
 *
 *   const d = await startTestDaemon();
 *   const project = await d.makeProject();
 *   await d.api('POST', '/v1/sandboxes', { path: project, name: 'box' });
 *   // d.socket for the CLI / AiboxClient (AIBOX_SOCKET), d.services for in-process checks
 *   await d.close();
 */
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { loadDaemonConfig, type DaemonConfig } from '../../src/config/index.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/server.js';
import type { DaemonServices } from '../../src/daemon/services/index.js';
import { FakeRuntime } from './fake-runtime.js';
import { socketApi, type ApiAnswer } from './socket-api.js';

/** The uid the projects made by `makeProject` belong to (aiboxd refuses root-owned project folders). */
export const PROJECT_UID = 1000;

export interface TestDaemonOptions {
  /** aiboxd.yaml sections deep-merged over the test defaults (as a config file would be). */
  config?: Record<string, unknown>;
  /** The runtime to use (default: a fresh FakeRuntime). */
  runtime?: FakeRuntime;
  /** Log level (default 'warn'); the log is kept in `log()` either way. */
  logLevel?: DaemonConfig['log']['level'];
}

export type { ApiAnswer };

export interface TestDaemon {
  /** The daemon's unix socket: point the CLI (AIBOX_SOCKET) or an AiboxClient at it. */
  socket: string;
  stateDir: string;
  /** The temporary folder holding everything (state, socket, projects, config). */
  dir: string;
  config: DaemonConfig;
  runtime: FakeRuntime;
  services: DaemonServices;
  daemon: RunningDaemon;
  /** One request over the socket, as root; the body is parsed JSON when it is JSON. */
  api<T = any>(method: string, route: string, body?: unknown): Promise<ApiAnswer<T>>;
  /** A new project folder under `dir` (owned by PROJECT_UID, as aiboxd requires), with the files given. */
  makeProject(name?: string, files?: Record<string, string>): Promise<string>;
  /** Everything the daemon logged so far (JSON lines). */
  log(): string;
  /** Shuts the daemon down (every service closed, in reverse) and deletes `dir`. Idempotent. */
  close(): Promise<void>;
}

export async function startTestDaemon(options: TestDaemonOptions = {}): Promise<TestDaemon> {
  const dir = await mkdtemp(path.join(tmpdir(), 'aibox-testd-'));
  const stateDir = path.join(dir, 'state');
  const socket = path.join(dir, 'aiboxd.sock');
  const configFile = path.join(dir, 'aiboxd.yaml');
  const defaults = {
    log: { level: options.logLevel ?? 'warn' },
    runtime: { mountsDir: path.join(dir, 'mounts'), image: { cacheDir: path.join(dir, 'cache') } },
    policy: { watch: false },
    sshGateway: { port: 0 },
  };
  await writeFile(configFile, stringify(deepMerge(defaults, options.config ?? {})));
  const config = await loadDaemonConfig(configFile, { stateDir, socket });
  const runtime = options.runtime ?? new FakeRuntime(stateDir);
  const lines: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon(config, 'test', { runtime, logDestination, network: 'none' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  let projects = 0;
  return {
    socket,
    stateDir,
    dir,
    config,
    runtime,
    services: daemon.services,
    daemon,
    api: (method, route, body) => socketApi(socket, method, route, body),
    async makeProject(name = `project${++projects}`, files = { 'README.md': `# ${name}\n` }) {
      const project = path.join(dir, 'projects', name);
      await mkdir(project, { recursive: true });
      await chown(path.dirname(project), PROJECT_UID, PROJECT_UID);
      for (const [rel, text] of Object.entries(files)) {
        const file = path.join(project, rel);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, text);
      }
      await chownTree(project, Object.keys(files));
      return project;
    },
    log: () => lines.join(''),
    async close() {
      if (closed) return;
      closed = true;
      await daemon.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The project folder, each file given and the folders between them, owned by PROJECT_UID. */
async function chownTree(project: string, rels: string[]): Promise<void> {
  const paths = new Set([project]);
  for (const rel of rels) {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) paths.add(path.join(project, ...parts.slice(0, i)));
  }
  for (const p of paths) await chown(p, PROJECT_UID, PROJECT_UID);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
