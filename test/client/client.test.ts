import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiboxClient, ClientError, isClientError, resolveSocketPath } from '../../src/client/index.js';
import { readNdjson } from '../../src/client/ndjson.js';
import type { ImageBuildEvent } from '../../src/shared/index.js';
import { startCannedAnswers, startCliTestDaemon } from '../cli/daemon.js';
import type { CliTestDaemon } from '../cli/daemon.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ClientError) return err;
    throw err;
  }
  throw new Error('expected a ClientError');
}

describe('AiboxClient against aiboxd (its composition root over a fake runtime)', () => {
  let daemon: CliTestDaemon;
  let client: AiboxClient;
  let project: string;

  beforeAll(async () => {
    daemon = await startCliTestDaemon();
    client = new AiboxClient(daemon.socket);
    project = await daemon.makeProject();
  });
  afterAll(() => daemon.close());

  it('returns parsed, typed reports', async () => {
    expect(await client.system.version()).toEqual({ version: 'test', api: 'v1' });
    const created = await client.sandboxes.create({ path: project, name: 'alpha' });
    expect(created).toMatchObject({ name: 'alpha', state: 'running', path: project });
    expect((await client.sandboxes.list()).map((s) => s.name)).toEqual(['alpha']);
    expect((await client.sandboxes.stop('alpha')).state).toBe('stopped');
    expect((await client.sandboxes.start('alpha')).state).toBe('running');
    expect(await client.sandboxes.logs('alpha')).toContain('log of alpha');
    expect((await client.system.status()).sandboxes).toEqual({ total: 1, running: 1 });
  });

  it("turns the daemon's error body into a ClientError with its code, hint and status", async () => {
    const err = await rejection(client.sandboxes.get('nobody-here'));
    expect(err).toMatchObject({
      code: 'SANDBOX_NOT_FOUND',
      status: 404,
      hint: 'List sandboxes with `aibox list`.',
    });
    expect(err.message).toBe('no sandbox named "nobody-here"');
    expect(err.unreachable).toBe(false);
  });

  it('answers a route a daemon lacks with its typed code', async () => {
    const older = await startCannedAnswers(daemon.daemon.dir, {});
    const missing = await rejection(new AiboxClient(older.socket).pushes.list());
    await older.close();
    expect(missing).toMatchObject({ code: 'API_ROUTE_NOT_FOUND', status: 404 });
    expect(isClientError(missing, 'API_ROUTE_NOT_FOUND')).toBe(true);
    expect(isClientError(missing, 'SANDBOX_NOT_FOUND')).toBe(false);
  });

  it('encodes names in paths so a crafted name cannot reach another route', async () => {
    const err = await rejection(client.sandboxes.get('../version'));
    expect(err.code).toBe('SANDBOX_NOT_FOUND');
  });

  it('reads the NDJSON image build stream and resolves with the done event', async () => {
    daemon.runtime.imagePresent = false;
    daemon.runtime.imageScript = {
      progress: [10, 60, 95].map((percent) => ({ phase: 'debootstrap', percent, message: `${percent}%` })),
    };
    const events: ImageBuildEvent[] = [];
    const done = await client.system.buildBaseImage({}, (e) => events.push(e));
    daemon.runtime.imageScript = { progress: [] };
    expect(
      events.filter((e) => e.type === 'progress').map((e) => e.type === 'progress' && e.percent),
    ).toEqual([10, 60, 95]);
    expect(done).toMatchObject({ type: 'done', cached: false, image: 'localhost/aibox-base:fake' });
    const again = await client.system.buildBaseImage({}, () => {});
    expect(again.cached).toBe(true);
  });

  it('reads NDJSON lines split anywhere across chunks', async () => {
    const stream = new PassThrough();
    const lines: unknown[] = [];
    const reading = (async () => {
      for await (const v of readNdjson(stream)) lines.push(v);
    })();
    for (const chunk of ['{"a":', '1}\n{"b"', ':2}\n\n', 'not json\n{"c":3}']) stream.write(chunk);
    stream.end();
    await reading;
    expect(lines.slice(0, 2)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(lines[2]).toBeInstanceOf(Error);
    expect(lines[3]).toEqual({ c: 3 });
  });

  it('streams exec stdout and stderr apart, forwards stdin until EOF and returns the exit code', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const stdin = new PassThrough();
    stdin.end('from stdin\n');
    const code = await client.exec.stream(
      'alpha',
      { cmd: ['sh', '-c', 'cat; echo to-stderr >&2; exit 7'], stdin: true },
      { stdin, stdout, stderr },
    );
    expect(code).toBe(7);
    expect(stdout.text).toBe('from stdin\n');
    expect(stderr.text).toBe('to-stderr\n');
  });

  it('sends terminal resizes as control messages', async () => {
    const stdin = new PassThrough();
    let send: ((size: { cols: number; rows: number }) => void) | undefined;
    const running = client.exec.stream(
      'alpha',
      { cmd: ['cat'], stdin: true, tty: true },
      {
        stdin,
        stdout: new Capture(),
        stderr: new Capture(),
        onResize: (s) => {
          send = s;
          return () => (send = undefined);
        },
      },
    );
    await expect.poll(() => send).toBeDefined();
    send!({ cols: 120, rows: 40 });
    await expect.poll(() => daemon.execs.at(-1)?.resizes).toEqual([{ cols: 120, rows: 40 }]);
    stdin.end();
    expect(await running).toBe(0);
    expect(send).toBeUndefined();
  });

  it('reports an exec refused after the upgrade (an error control message) with the daemon error', async () => {
    const err = await rejection(
      client.exec.stream('ghost', { cmd: ['true'] }, { stdout: new Capture(), stderr: new Capture() }),
    );
    expect(err).toMatchObject({ code: 'SANDBOX_NOT_FOUND', hint: 'List sandboxes with `aibox list`.' });
  });

  it('reports an exec whose upgrade was refused with an HTTP error body', async () => {
    const sock = path.join(daemon.daemon.dir, 'refusing.sock');
    const body = JSON.stringify({
      error: { code: 'SANDBOX_NOT_FOUND', message: 'no sandbox ghost', hint: 'h' },
    });
    const strict = http.createServer();
    strict.on('upgrade', (_req, socket: Socket) =>
      socket.end(
        `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      ),
    );
    await new Promise<void>((resolve) => strict.listen(sock, resolve));
    try {
      const err = await rejection(
        new AiboxClient(sock).exec.stream(
          'ghost',
          { cmd: ['true'] },
          { stdout: new Capture(), stderr: new Capture() },
        ),
      );
      expect(err).toMatchObject({ code: 'SANDBOX_NOT_FOUND', status: 404 });
    } finally {
      strict.close();
    }
  });

  it('runs buffered exec for programs', async () => {
    const result = await client.exec.run('alpha', { cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
    expect(result).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', truncated: false });
  });
});

describe('AiboxClient when the daemon cannot be reached', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'aibox-client-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says DAEMON_NOT_RUNNING with the aiboxd hint when the socket does not exist', async () => {
    const err = await rejection(new AiboxClient(path.join(dir, 'missing.sock')).system.version());
    expect(err.code).toBe('DAEMON_NOT_RUNNING');
    expect(err.hint).toContain('start it with `aiboxd` (or `npm run quickstart`)');
    expect(err.unreachable).toBe(true);
    const viaWs = await rejection(
      new AiboxClient(path.join(dir, 'missing.sock')).exec.stream(
        'x',
        { cmd: ['true'] },
        { stdout: new Capture(), stderr: new Capture() },
      ),
    );
    expect(viaWs.code).toBe('DAEMON_NOT_RUNNING');
  });

  it('says DAEMON_NOT_RUNNING when a stale socket file has no listener', async () => {
    const sock = path.join(dir, 'stale.sock');
    // A process that binds the socket and is killed leaves the file behind, like a crashed daemon.
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`,
    ]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect((await stat(sock)).isSocket()).toBe(true);
    const err = await rejection(new AiboxClient(sock).system.status());
    expect(err.code).toBe('DAEMON_NOT_RUNNING');
    expect(err.message).toContain('nothing listens');
  });

  it("says DAEMON_BAD_RESPONSE when an answer is not its route's contract, read with or without zod", async () => {
    const sock = path.join(dir, 'shapes.sock');
    const server = http.createServer((req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(req.url === '/v1/version' ? '{"version":1,"api":"v1"}' : '{"pushes":"none"}'),
    );
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const c = new AiboxClient(sock);
      expect(await rejection(c.system.version())).toMatchObject({ code: 'DAEMON_BAD_RESPONSE', status: 0 });
      expect((await rejection(c.pushes.list())).code).toBe('DAEMON_BAD_RESPONSE');
      expect((await rejection(c.sandboxes.list())).code).toBe('DAEMON_BAD_RESPONSE');
    } finally {
      server.close();
    }
  });

  it('says DAEMON_BAD_RESPONSE when something else answers on the socket', async () => {
    const sock = path.join(dir, 'other.sock');
    const server = http.createServer((_req, res) => res.writeHead(200).end('hello, I am not aiboxd'));
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      expect((await rejection(new AiboxClient(sock).system.version())).code).toBe('DAEMON_BAD_RESPONSE');
    } finally {
      server.close();
    }
  });
});

describe('resolveSocketPath', () => {
  it('prefers --socket, then AIBOX_SOCKET, then /run/aibox/aiboxd.sock', () => {
    expect(resolveSocketPath('/a.sock', { AIBOX_SOCKET: '/b.sock' })).toBe('/a.sock');
    expect(resolveSocketPath(undefined, { AIBOX_SOCKET: '/b.sock' })).toBe('/b.sock');
    expect(resolveSocketPath(undefined, {})).toBe('/run/aibox/aiboxd.sock');
  });
});
