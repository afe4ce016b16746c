/**
 * A real git server for tests: `git http-backend` behind a Node HTTP server on 127.0.0.1 that demands HTTP basic auth
 * with one token, so tests prove the gateway authenticates upstream (and nobody else can). Plus small wrappers
 * around the host `git` client used as the "agent" side.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { runHttpBackend } from '../../../src/git-gate/cgi-process.js';
import type { Logger } from '../../../src/shared/index.js';

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

export const gitEnv = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  HOME: '/nonexistent',
  GIT_AUTHOR_NAME: 'Agent',
  GIT_AUTHOR_EMAIL: 'agent@example.invalid',
  GIT_COMMITTER_NAME: 'Agent',
  GIT_COMMITTER_EMAIL: 'agent@example.invalid',
  GIT_TERMINAL_PROMPT: '0',
  LANG: 'C',
};

export async function git(
  cwd: string,
  args: string[],
  opts: { reject?: boolean; env?: Record<string, string> } = {},
) {
  const r = await execa('git', args, {
    cwd,
    env: { ...gitEnv, PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env },
    extendEnv: false,
    reject: false,
  });
  if (opts.reject !== false && r.exitCode !== 0) {
    throw new Error(`git ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  }
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? 1, all: `${r.stdout}\n${r.stderr}` };
}

export interface Upstream {
  readonly root: string;
  /** http://127.0.0.1:PORT/<name>.git */
  url(name: string): string;
  /** Path of the bare repository on disk. */
  dir(name: string): string;
  create(name: string, files?: Record<string, string>): Promise<string>;
  refValue(name: string, ref: string): Promise<string | undefined>;
  /** Someone else commits on `branch` directly on the upstream; returns the new tip. */
  advance(name: string, branch: string, file: string): Promise<string>;
  /** Every Authorization header the server saw (to prove which credential was used). */
  readonly seenAuth: string[];
  close(): Promise<void>;
}

export async function startUpstream(token: string, username = 'x-access-token'): Promise<Upstream> {
  const root = await mkdtemp(path.join(tmpdir(), 'aibox-upstream-'));
  const expected = `Basic ${Buffer.from(`${username}:${token}`).toString('base64')}`;
  const seenAuth: string[] = [];
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    if (auth) seenAuth.push(auth);
    if (auth !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream"', 'content-type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://upstream');
    void runHttpBackend(
      req,
      res,
      {
        projectRoot: root,
        pathInfo: url.pathname,
        query: url.search.slice(1),
        remoteUser: 'gateway',
        env: {},
      },
      silentLogger,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const dir = (name: string) => path.join(root, `${name}.git`);
  return {
    root,
    seenAuth,
    url: (name) => `http://127.0.0.1:${port}/${name}.git`,
    dir,
    async create(name, files = { 'README.md': '# hello\n' }) {
      await git(root, ['init', '--bare', '--quiet', '-b', 'main', dir(name)]);
      await git(dir(name), ['config', 'http.receivepack', 'true']);
      const work = await mkdtemp(path.join(tmpdir(), 'aibox-seed-'));
      await git(work, ['init', '--quiet', '-b', 'main']);
      for (const [f, content] of Object.entries(files)) await writeFile(path.join(work, f), content);
      await git(work, ['add', '.']);
      await git(work, ['commit', '--quiet', '-m', 'initial commit']);
      await git(work, ['push', '--quiet', dir(name), 'main']);
      await rm(work, { recursive: true, force: true });
      return (await git(dir(name), ['rev-parse', 'main'])).stdout.trim();
    },
    async refValue(name, ref) {
      const r = await git(dir(name), ['rev-parse', '--verify', '--quiet', ref], { reject: false });
      return r.exitCode === 0 ? r.stdout.trim() : undefined;
    },
    async advance(name, branch, file) {
      const work = await mkdtemp(path.join(tmpdir(), 'aibox-advance-'));
      await git(work, ['clone', '--quiet', '--branch', branch, dir(name), '.']);
      await writeFile(path.join(work, file), `${file}\n`);
      await git(work, ['add', file]);
      await git(work, ['commit', '--quiet', '-m', `human edits ${file}`]);
      await git(work, ['push', '--quiet', 'origin', `HEAD:${branch}`]);
      const sha = (await git(work, ['rev-parse', 'HEAD'])).stdout.trim();
      await rm(work, { recursive: true, force: true });
      return sha;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
