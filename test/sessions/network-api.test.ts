/**
 * The session API's HTTP layer over a real TCP listener, without gVisor: token auth (401/403), the session, file,
 * compatibility, token and metrics routes, rate limits and quotas with Retry-After, the path-escape battery over
 * HTTP and streaming exec — driven by the TypeScript SDK and the Python client. Sessions run on a stand-in backend
 * (workspaces are temporary folders, commands are host processes there); the real daemon is covered by
 * test/integration/sessions.test.ts.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AiboxClient,
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
  type ExecEvent,
} from '../../packages/sdk/src/index.js';
import { toErrorAnswer } from '../../src/daemon/http/contract.js';
import {
  installTokenAuth,
  startNetworkListener,
  type NetworkListener,
} from '../../src/daemon/http/token-auth.js';
import { collectRoutes, openApiDocument, openApiRoutes } from '../../src/daemon/routes/openapi.js';
import { compatRoutes } from '../../src/daemon/routes/compat.js';
import { metricsRoutes } from '../../src/daemon/routes/metrics.js';
import { sessionRoutes } from '../../src/daemon/routes/sessions.js';
import { tokenRoutes } from '../../src/daemon/routes/tokens.js';
import type { DaemonServices } from '../../src/daemon/services/index.js';
import {
  SessionService,
  SessionsConfig,
  createSessionMetrics,
  type SessionApi,
  type SessionBackend,
} from '../../src/sessions/index.js';
import { SESSION_ROUTES, TOKEN_ROUTES } from '../../src/shared/index.js';
import { TokenStore } from '../../src/tokens/index.js';
import { makeTar, readTar, scratch } from './helpers.js';

const PYTHON_CLIENT = fileURLToPath(new URL('../../clients/python/src', import.meta.url));

/** Host processes in a per-session folder: enough to exercise the HTTP layer (no isolation: tests only). */
class HostBackend implements SessionBackend {
  private n = 0;
  readonly removed: string[] = [];
  constructor(private readonly base: string) {}
  async createEphemeral() {
    const id = `sbx_${++this.n}`;
    await mkdir(path.join(this.base, id), { recursive: true });
    return { id, name: `session-${id}`, warm: false };
  }
  async remove(name: string) {
    this.removed.push(name);
  }
  async execBuffered(name: string, o: { cmd: string[]; env: Record<string, string>; timeoutMs: number }) {
    return new Promise<{
      exitCode: number;
      stdout: string;
      stderr: string;
      truncated: boolean;
      timedOut: boolean;
    }>((resolve) => {
      execFile(
        o.cmd[0]!,
        o.cmd.slice(1),
        { cwd: this.dirOf(name), env: { PATH: process.env.PATH, ...o.env }, timeout: o.timeoutMs },
        (err, stdout, stderr) => {
          const e = err as (Error & { code?: number; killed?: boolean }) | null;
          resolve({
            exitCode: e ? (typeof e.code === 'number' ? e.code : 137) : 0,
            stdout,
            stderr,
            truncated: false,
            timedOut: e?.killed === true,
          });
        },
      );
    });
  }
  async authorizeExec(_name: string, argv: string[]) {
    if (argv[0] === 'nc') throw Object.assign(new Error('denied'), { statusCode: 403 });
  }
  workspace(id: string) {
    return {
      root: path.join(this.base, id),
      owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    };
  }
  dirOf(name: string) {
    return path.join(this.base, name.replace(/^session-/, ''));
  }
}

describe('the session API over a TCP listener (stand-in sandboxes)', () => {
  let s: Awaited<ReturnType<typeof scratch>>;
  let app: FastifyInstance;
  let listener: NetworkListener;
  let api: SessionApi;
  let backend: HostBackend;
  let admin: AiboxClient;
  let client: AiboxClient;
  let token: string;
  let routes: { method: string; url: string }[];

  beforeAll(async () => {
    s = await scratch();
    backend = new HostBackend(s.ws);
    const config = SessionsConfig.parse({ maxPerToken: 3, rateLimit: { max: 400, windowSeconds: 60 } });
    const tokens = await TokenStore.open(path.join(s.base, 'state'));
    const metrics = createSessionMetrics();
    const sessions = new SessionService({
      backend,
      config,
      stateDir: path.join(s.base, 'state'),
      logger: pino({ level: 'silent' }),
      metrics,
    });
    api = { sessions, tokens, metrics, config, close: () => sessions.close() };
    // streaming exec: the daemon's own exec-stream code over host processes
    const services = {
      sandboxes: {
        requireRunning: async () => ({}),
        exec: async (name: string, o: { cmd: string[] }) => {
          const child = spawn(o.cmd[0]!, o.cmd.slice(1), { cwd: backend.dirOf(name) });
          const stdin = new PassThrough();
          stdin.pipe(child.stdin);
          return {
            stdin,
            stdout: child.stdout,
            stderr: child.stderr,
            resize: async () => undefined,
            exit: new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 137))),
          };
        },
      },
      policy: { authorize: async () => ({}) },
    } as unknown as DaemonServices;
    app = Fastify({ logger: false });
    app.setErrorHandler(async (err, _request, reply) => {
      const answer = toErrorAnswer(err);
      return reply.status(answer.status).send(answer.payload);
    });
    await app.register(websocket);
    installTokenAuth(app, () => tokens);
    routes = collectRoutes(app);
    await app.register(sessionRoutes(services, api));
    await app.register(compatRoutes(api));
    await app.register(tokenRoutes(api));
    await app.register(metricsRoutes(api));
    await app.register(openApiRoutes(routes, 'test'));
    app.get('/v1/socket-only', async () => ({ ok: true }));
    await app.ready();
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(p));
      });
    });
    listener = await startNetworkListener(
      app,
      { enabled: true, host: '127.0.0.1', port, dashboard: false },
      pino({ level: 'silent' }),
    );
    const adminToken = (await tokens.create({ name: 'ops', scope: 'admin' })).token;
    admin = new AiboxClient({ baseUrl: listener.url, token: adminToken });
    token = (await admin.tokens.create({ name: 'agent' })).token;
    client = new AiboxClient({ baseUrl: listener.url, token });
  });
  afterAll(async () => {
    await listener?.close();
    await app?.close();
    await api?.close();
    await s?.done();
  });

  const raw = async (route: string, bearer?: string, init: RequestInit = {}) => {
    const res = await fetch(`${listener.url}${route}`, {
      ...init,
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json().catch(() => ({}))) as { error?: { code: string; hint: string } },
    };
  };

  it('answers 401 without a valid token and 403 outside the scope or on socket-only routes, in the error contract', async () => {
    expect(await raw('/v1/sessions')).toMatchObject({
      status: 401,
      body: { error: { code: 'TOKEN_MISSING' } },
    });
    expect(await raw('/v1/sessions', 'nope')).toMatchObject({
      status: 401,
      body: { error: { code: 'TOKEN_INVALID' } },
    });
    expect(await raw(TOKEN_ROUTES.collection, token)).toMatchObject({
      status: 403,
      body: { error: { code: 'TOKEN_SCOPE' } },
    });
    expect(
      await raw('/v1/socket-only', (await admin.tokens.create({ name: 'ops2', scope: 'admin' })).token),
    ).toMatchObject({
      status: 403,
      body: { error: { code: 'TOKEN_SCOPE' } },
    });
    expect(await client.tokens.list().catch((e: unknown) => e)).toBeInstanceOf(PermissionDeniedError);
  });

  it('creates, lists, uses and removes a session through the SDK', async () => {
    const session = await client.createSession({ files: [{ path: 'hello.txt', content: 'hi\n' }] });
    expect((await client.listSessions()).map((x) => x.id)).toContain(session.id);
    const r = await session.exec(['cat', 'hello.txt']);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\n', timedOut: false });
    const slow = await session.exec(['sleep', '5'], { timeoutSeconds: 0.3 });
    expect(slow).toMatchObject({ exitCode: 137, timedOut: true });
    await session.close();
    expect(await raw(`/v1/sessions/${session.id}`, token)).toMatchObject({
      status: 404,
      body: { error: { code: 'SESSION_NOT_FOUND' } },
    });
  });

  it('streams exec output with stdin over the WebSocket', async () => {
    await using session = await client.createSession();
    const run = session.execStream(['tr', 'a-z', 'A-Z']);
    run.write('streamed\n');
    run.end();
    const out: ExecEvent[] = [];
    for await (const ev of run) out.push(ev);
    expect(
      out
        .filter((e) => e.type === 'stdout')
        .map((e) => ('data' in e ? e.data.toString() : ''))
        .join(''),
    ).toBe('STREAMED\n');
    expect(await run.exit).toBe(0);
  });

  it('keeps a session alive while a streaming exec runs longer than its idle TTL, without traffic', async () => {
    const session = await client.createSession({ idleTtlSeconds: 1 });
    const run = session.execStream(['sleep', '2.5']);
    for await (const _ev of run) void _ev;
    expect(await run.exit).toBe(0);
    // the reaper (at most every 250 ms) saw 2.5 s without a request: only the open stream kept the session
    expect((await raw(`/v1/sessions/${session.id}`, token)).status).toBe(200);
    // once the stream is closed the idle TTL applies again
    await new Promise((r) => setTimeout(r, 1800));
    expect(await raw(`/v1/sessions/${session.id}`, token)).toMatchObject({
      status: 404,
      body: { error: { code: 'SESSION_NOT_FOUND' } },
    });
  });

  it('moves files over HTTP and refuses every escape with a stable 4xx, writing nothing outside', async () => {
    await using session = await client.createSession();
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    expect(await session.writeFile('bin/data', data, { mode: 0o700 })).toBe(data.length);
    expect((await session.readFile('bin/data')).equals(data)).toBe(true);
    expect((await session.list('bin')).map((e) => [e.name, e.mode])).toEqual([['data', 0o700]]);
    await session.uploadTar(await makeTar([{ name: 'a/b.txt', data: 'tarred' }]), 'up');
    expect((await readTar(await session.downloadTar('up'))).get('a/b.txt')?.data.toString()).toBe('tarred');
    // a link planted in the workspace by "the sandbox"
    const ws = path.join(s.ws, (await readdirNewest(s.ws)) ?? '');
    await symlink(s.outside, path.join(ws, 'out'));
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: { code?: string; status?: number }) => `${e.status} ${e.code}`,
      );
    expect(await code(session.writeFile('out/x', 'x'))).toBe('400 SESSION_PATH_ESCAPE');
    expect(await code(session.readFile('out/secret.txt'))).toBe('400 SESSION_PATH_ESCAPE');
    expect(await code(session.uploadTar(await makeTar([{ name: 'x', data: 'x' }]), 'out'))).toBe(
      '400 SESSION_PATH_ESCAPE',
    );
    expect(await code(session.readFile('../../etc/passwd'))).toBe('400 SESSION_PATH_INVALID');
    expect(await code(session.writeFile('/etc/cron.d/x', 'x'))).toBe('400 SESSION_PATH_INVALID');
    expect(await code(session.uploadTar(await makeTar([{ name: '../../x', data: 'x' }])))).toBe(
      '400 SESSION_TAR_ENTRY_REFUSED',
    );
    expect(await code(session.uploadTar(Buffer.from('not a tar at all, just bytes'.repeat(40))))).toBe(
      '400 SESSION_TAR_INVALID',
    );
    expect(await code(session.readFile('missing'))).toBe('404 SESSION_PATH_NOT_FOUND');
    expect(await code(session.writeFile('big', Buffer.alloc(api.config.maxFileBytes + 1)))).toBe(
      '413 SESSION_FILE_TOO_LARGE',
    );
    await session.remove('out');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(s.outside)).toEqual([]); // nothing was written through the link
    expect((await readFile(path.join(ws, 'bin', 'data'))).equals(data)).toBe(true);
  });

  it('answers a session over quota with 429 and Retry-After', async () => {
    const held = await Promise.all([client.createSession(), client.createSession(), client.createSession()]);
    const res = await raw(SESSION_ROUTES.collection, token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(429);
    expect(res.body.error?.code).toBe('SESSION_QUOTA');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    for (const h of held) await h.close();
  });

  it('rate-limits each token on its own, with 429 SESSION_RATE_LIMITED and Retry-After', async () => {
    const noisy = new AiboxClient({
      baseUrl: listener.url,
      token: (await admin.tokens.create({ name: 'noisy' })).token,
    });
    let refused: unknown;
    for (let i = 0; i < api.config.rateLimit.max + 5 && !refused; i++) {
      refused = await noisy.listSessions().then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(refused).toBeInstanceOf(RateLimitError);
    expect((refused as RateLimitError).code).toBe('SESSION_RATE_LIMITED');
    expect((refused as RateLimitError).retryAfterSeconds).toBeGreaterThan(0);
    expect(await client.listSessions()).toBeInstanceOf(Array); // another token is not slowed down
  });

  it('serves the compatibility endpoints to the Python client', async () => {
    const script = [
      'import json',
      'from aibox_client import AiboxClient',
      'c = AiboxClient().compat',
      'sid = c.create_session()',
      'r = c.execute(sid, "echo out; echo err >&2; exit 3")',
      'c.cleanup(sid)',
      'print(json.dumps(r))',
    ].join('\n');
    const { stdout } = await promisify(execFile)('python3', ['-B', '-c', script], {
      env: { ...process.env, PYTHONPATH: PYTHON_CLIENT, AIBOX_URL: listener.url, AIBOX_TOKEN: token },
    });
    expect(JSON.parse(stdout)).toEqual({ exit_code: 3, output: 'out\nerr\n' });
  });

  it('streams exec with stdin from the Python client (WebSocket over the standard library)', async () => {
    const script = [
      'import json, threading',
      'from aibox_client import AiboxClient, NotFoundError',
      'c = AiboxClient()',
      'out = {}',
      'with c.session() as s:',
      '    with s.exec_stream(["tr", "a-z", "A-Z"]) as run:',
      '        run.write("hello ")',
      '        run.write(b"streamed\\n")',
      '        run.close_stdin()',
      '        out["upper"] = b"".join(d for name, d in run if name == "stdout").decode()',
      '    out["upper_exit"] = run.exit_code',
      '    big = bytes(range(256)) * 1200',
      '    run = s.exec_stream(["cat"])',
      '    t = threading.Thread(target=lambda: (run.write(big), run.close_stdin()))',
      '    t.start()',
      '    got = b"".join(d for name, d in run if name == "stdout")',
      '    t.join()',
      '    out["big"] = got == big',
      '    run = s.exec_stream("echo one; echo two >&2; printf three; exit 4")',
      '    out["lines"] = list(run.lines("stdout"))',
      '    out["code"] = run.exit_code',
      'gone = c.create_session()',
      'gone.close()',
      'try:',
      '    gone.exec_stream(["true"])', // refused before the upgrade: the API's error, typed
      'except NotFoundError as e:',
      '    out["missing"] = e.code',
      'print(json.dumps(out))',
    ].join('\n');
    const { stdout } = await promisify(execFile)('python3', ['-B', '-c', script], {
      env: { ...process.env, PYTHONPATH: PYTHON_CLIENT, AIBOX_URL: listener.url, AIBOX_TOKEN: token },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      upper: 'HELLO STREAMED\n',
      upper_exit: 0,
      big: true,
      lines: ['one\n', 'three'],
      code: 4,
      missing: 'SESSION_NOT_FOUND',
    });
  });

  it('exposes Prometheus metrics to admin tokens only', async () => {
    const res = await fetch(`${listener.url}/metrics`, {
      headers: {
        authorization: `Bearer ${(await admin.tokens.create({ name: 'prom', scope: 'admin' })).token}`,
      },
    });
    const text = await res.text();
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(text).toMatch(/aibox_sessions_created_total\{warm="false"\} \d+/);
    expect(text).toMatch(/aibox_session_refusals_total\{reason="quota"\} 1/);
    expect((await raw('/metrics', token)).status).toBe(403);
  });

  it('documents every registered route in OpenAPI 3.1, with the full contract for the session API', async () => {
    const doc = openApiDocument(routes, 'test') as {
      paths: Record<
        string,
        Record<string, { 'x-error-codes': string[]; responses: Record<string, { content?: unknown }> }>
      >;
    };
    for (const r of routes) {
      const p = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
      expect(doc.paths[p]?.[r.method.toLowerCase()], `${r.method} ${r.url}`).toBeDefined();
    }
    for (const url of [...Object.values(SESSION_ROUTES), ...Object.values(TOKEN_ROUTES)]) {
      const p = url.replace(/:([A-Za-z]+)/g, '{$1}');
      expect(doc.paths[p], `${url} is registered and documented`).toBeDefined();
      for (const op of Object.values(doc.paths[p] ?? {}))
        expect(Object.values(op.responses)[0]?.content).toBeDefined();
    }
    expect(doc.paths['/v1/sessions/{id}/files']?.put?.['x-error-codes']).toEqual(
      expect.arrayContaining(['SESSION_PATH_ESCAPE', 'TOKEN_INVALID']),
    );
    const served = await raw('/v1/openapi.json', token);
    expect(served.status).toBe(200);
  });

  it('refuses a token at once when it is revoked', async () => {
    await admin.tokens.revoke('agent');
    const err = await client.listSessions().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).code).toBe('TOKEN_REVOKED');
  });
});

async function readdirNewest(dir: string): Promise<string | undefined> {
  const { readdir, stat } = await import('node:fs/promises');
  const names = await readdir(dir);
  const stats = await Promise.all(
    names.map(async (n) => [n, (await stat(path.join(dir, n))).mtimeMs] as const),
  );
  return stats.sort((a, b) => b[1] - a[1])[0]?.[0];
}
