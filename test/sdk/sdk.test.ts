import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AiboxClient,
  AiboxApiError,
  AuthenticationError,
  ConnectionError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitError,
  type ExecEvent,
} from '../../packages/sdk/src/index.js';
import { Session } from '../../packages/sdk/src/session.js';
import { Transport } from '../../packages/sdk/src/transport.js';
import { fakeDaemon, TOKEN } from './fake-daemon.js';

describe('the TypeScript SDK (against a stand-in daemon)', () => {
  let fake: Awaited<ReturnType<typeof fakeDaemon>>;
  let client: AiboxClient;
  beforeEach(async () => {
    fake = await fakeDaemon();
    client = new AiboxClient({ baseUrl: fake.url, token: TOKEN });
  });
  afterEach(async () => fake.close());
  const last = (method: string, path: string) =>
    fake.requests.filter((r) => r.method === method && r.path === path).at(-1)!;

  it('creates a session with options and removes it at scope end (await using / withSession)', async () => {
    let id = '';
    await expect(
      client.withSession({ ttlSeconds: 30, env: { A: '1' } }, async (s) => {
        id = s.id;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(JSON.parse(last('POST', '/v1/sessions').body.toString())).toEqual({
      ttlSeconds: 30,
      env: { A: '1' },
    });
    expect(last('DELETE', `/v1/sessions/${id}`).headers.authorization).toBe(`Bearer ${TOKEN}`);
    {
      await using s = await client.createSession();
      id = s.id;
      expect(fake.sessions.has(id)).toBe(true);
    }
    expect(fake.sessions.has(id)).toBe(false);
  });

  it('runs buffered exec with argv or a shell string and a timeout', async () => {
    await using s = await client.createSession();
    const r = await s.exec(['echo', 'hi'], { timeoutSeconds: 5, workdir: '/workspace/x' });
    expect(r).toEqual({
      exitCode: 0,
      stdout: 'echo hi',
      stderr: '',
      truncated: false,
      timedOut: false,
      durationMs: 3,
    });
    expect(JSON.parse(last('POST', `/v1/sessions/${s.id}/exec`).body.toString())).toEqual({
      cmd: ['echo', 'hi'],
      timeoutSeconds: 5,
      env: {},
      workdir: '/workspace/x',
    });
    expect((await s.exec('ls | wc -l')).stdout).toBe('/bin/sh -c ls | wc -l');
  });

  it('streams exec output as an async iterator, with stdin and the exit code', async () => {
    await using s = await client.createSession();
    const run = s.execStream(['cat']);
    run.write('hello ');
    run.write(new TextEncoder().encode('world'));
    run.end();
    const events: ExecEvent[] = [];
    for await (const ev of run) events.push(ev);
    expect(await run.exit).toBe(7);
    const text = (type: string) =>
      events
        .filter((e) => e.type === type)
        .map((e) => ('data' in e ? e.data.toString() : ''))
        .join('');
    expect(text('stderr')).toBe('cat');
    expect(text('stdout')).toBe('HELLO WORLD');
    expect(events.at(-1)).toEqual({ type: 'exit', exitCode: 7 });
  });

  it('turns a refusal on the exec stream into a typed error', async () => {
    await using s = await client.createSession();
    const run = s.execStream(['denied']);
    await expect(run.exit).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    // a refused upgrade (HTTP 401 before the WebSocket exists) carries the API's code too
    const other = await new AiboxClient({ baseUrl: fake.url, token: 'wrong' })
      .createSession()
      .catch((e: unknown) => e);
    expect(other).toBeInstanceOf(AuthenticationError);
    const wrong = new Transport({ baseUrl: fake.url, token: 'wrong', timeoutMs: 5000, fetch });
    const session = new Session(wrong, s.info);
    await expect(session.execStream(['ls']).exit).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
      status: 401,
    });
  });

  it('round-trips binary files, lists, removes, and moves tars both ways', async () => {
    await using s = await client.createSession();
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    expect(await s.writeFile('dir/data.bin', data, { mode: 0o755 })).toBe(data.length);
    expect(last('PUT', `/v1/sessions/${s.id}/files`).query).toEqual({ path: 'dir/data.bin', mode: '0755' });
    expect((await s.readFile('dir/data.bin')).equals(data)).toBe(true);
    expect((await s.list()).map((e) => e.path)).toEqual(['dir/data.bin']);
    await s.remove('dir', { recursive: true });
    expect(last('DELETE', `/v1/sessions/${s.id}/files`).query).toEqual({ path: 'dir', recursive: 'true' });
    // a streamed upload (an async iterable body goes out chunked)
    async function* chunks() {
      yield Buffer.from('part1');
      yield Buffer.from('part2');
    }
    expect(await s.uploadTar(chunks(), 'dest')).toEqual({
      path: 'dest',
      files: 1,
      directories: 0,
      bytes: 10,
    });
    expect(last('PUT', `/v1/sessions/${s.id}/files/tar`).headers['content-type']).toBe('application/x-tar');
    const tar: Buffer[] = [];
    for await (const c of await s.downloadTar('dest')) tar.push(c as Buffer);
    expect(Buffer.concat(tar).toString()).toBe('TARBYTES');
  });

  it('throws typed errors carrying the API code, hint, details and Retry-After', async () => {
    const s = await client.createSession();
    await expect(s.readFile('missing')).rejects.toMatchObject({
      name: 'NotFoundError',
      code: 'SESSION_PATH_NOT_FOUND',
      status: 404,
      hint: 'a hint',
      details: { x: 1 },
    });
    fake.failNext(429, 'SESSION_QUOTA', { 'retry-after': '12' });
    const quota = await client.createSession().catch((e: unknown) => e);
    expect(quota).toBeInstanceOf(RateLimitError);
    expect((quota as RateLimitError).retryAfterSeconds).toBe(12);
    fake.failNext(413, 'SESSION_FILE_TOO_LARGE');
    await expect(s.writeFile('x', 'y')).rejects.toBeInstanceOf(PayloadTooLargeError);
    fake.sessions.clear();
    await s.close(); // already gone: quiet
    await expect(client.session(s.id)).rejects.toBeInstanceOf(NotFoundError);
    const e = await new AiboxClient({ baseUrl: fake.url, token: 'nope' })
      .listSessions()
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AuthenticationError);
    expect(e).toBeInstanceOf(AiboxApiError);
    expect((e as AuthenticationError).code).toBe('TOKEN_INVALID');
  });

  it('reports an unreachable daemon as a ConnectionError', async () => {
    const url = fake.url;
    await fake.close();
    const err = await new AiboxClient({ baseUrl: url, token: TOKEN, timeoutMs: 2000 })
      .listSessions()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    fake = await fakeDaemon();
  });

  it('speaks the compatibility endpoints', async () => {
    const id = await client.compat.createSession();
    expect(await client.compat.execute(id, 'echo hi')).toEqual({ exit_code: 0, output: 'ran echo hi' });
    expect(JSON.parse(last('POST', '/execute').body.toString())).toEqual({
      session_id: id,
      command: 'echo hi',
    });
    await client.compat.cleanup(id);
  });
});
