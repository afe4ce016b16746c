import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AiboxError } from '../../src/shared/errors.js';
import {
  assertDashboardAddress,
  DashboardSessions,
  installDashboard,
  isLoopback,
} from '../../src/daemon/dashboard/index.js';

const TOKEN = 'aibox_tok_abc_secretsecret';
const ORIGIN = 'http://127.0.0.1:7777';

let dir: string;
let app: FastifyInstance;
let revoked: boolean;
let sessions: DashboardSessions;

/** A listener like the network one: the dashboard first, then a bearer-token check, then routes. */
async function build(limits?: { idleMs: number; maxAgeMs: number; max: number }, sessionsFile?: string) {
  app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const e = err as AiboxError;
    return reply
      .status(e.status ?? (err as { statusCode?: number }).statusCode ?? 500)
      .send({ error: { code: e.code, message: e.message, hint: e.hint ?? '' } });
  });
  const authenticate = (token: string) => {
    if (token !== TOKEN)
      throw new AiboxError('TOKEN_INVALID', 'the bearer token is not valid', { status: 401, hint: 'x' });
    if (revoked) throw new AiboxError('TOKEN_REVOKED', 'token "t" was revoked', { status: 401, hint: 'x' });
    return { subject: 'reviewer' };
  };
  sessions = await installDashboard(app, {
    webDir: dir,
    secure: false,
    login: (token) => ({ ...authenticate(token), tokenId: 'tok_test' }),
    // As the daemon does with the principal: the session acts as its token (re-checked: revocation ends it).
    resume: (tokenId, request) => {
      expect(tokenId).toBe('tok_test');
      request.headers.authorization = `Bearer ${TOKEN}`;
      return authenticate(TOKEN);
    },
    ...(sessionsFile ? { sessionsFile } : {}),
    ...(limits ? { limits } : {}),
  });
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/')) return;
    const auth = request.headers.authorization;
    if (!auth) throw new AiboxError('TOKEN_MISSING', 'no bearer token', { status: 401, hint: 'x' });
    authenticate(auth.replace(/^Bearer /, ''));
  });
  let changes = 0;
  app.get('/v1/things', async (request) => ({
    auth: request.headers.authorization === `Bearer ${TOKEN}`,
    changes,
  }));
  app.post('/v1/things', async () => ({ changes: ++changes }));
  await app.ready();
}

beforeEach(async () => {
  revoked = false;
  dir = await mkdtemp(path.join(tmpdir(), 'aibox-web-'));
  await mkdir(path.join(dir, 'assets'));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>aibox</title>');
  await writeFile(path.join(dir, 'assets', 'app-123.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'secret.txt'), 'not served');
});

afterEach(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

async function login(token = TOKEN, origin: string | undefined = ORIGIN) {
  const res = await app.inject({
    method: 'POST',
    url: '/dashboard/login',
    headers: { host: '127.0.0.1:7777', ...(origin ? { origin } : {}) },
    payload: { token },
  });
  const setCookie = String(res.headers['set-cookie'] ?? '');
  return { res, cookie: setCookie.split(';')[0]!, setCookie, body: res.json() };
}

describe('dashboard login and session cookie', () => {
  beforeEach(() => build());

  it('serves the page and its assets with security headers, and nothing else from the folder', async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>aibox</title>');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['cache-control']).toBe('no-store');
    const asset = await app.inject({ url: '/assets/app-123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ url: '/secret.txt' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/../secret.txt' })).body).not.toContain('not served');
    expect((await app.inject({ url: '/assets/%2e%2e/secret.txt' })).body).not.toContain('not served');
  });

  it('exchanges a token for an HttpOnly SameSite=Strict cookie that holds no token', async () => {
    const { res, setCookie, body } = await login();
    expect(res.statusCode).toBe(200);
    expect(setCookie).toMatch(
      /^aibox_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    expect(setCookie).not.toContain(TOKEN);
    expect(body).toEqual({ subject: 'reviewer', csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(JSON.stringify(body)).not.toContain(TOKEN);
  });

  it('refuses a wrong token with the API code and sets no cookie', async () => {
    const { res } = await login('aibox_tok_nope');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('TOKEN_INVALID');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a login posted from another origin', async () => {
    const { res } = await login(TOKEN, 'https://evil.example');
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('DASHBOARD_CSRF');
  });

  it('lets the cookie stand for the token on reads, and tells the session and CSRF token back', async () => {
    const { cookie, body } = await login();
    const read = await app.inject({ url: '/v1/things', headers: { cookie } });
    expect(read.json()).toEqual({ auth: true, changes: 0 });
    const session = await app.inject({ url: '/dashboard/session', headers: { cookie } });
    expect(session.json()).toEqual({ subject: 'reviewer', csrf: body.csrf });
    expect((await app.inject({ url: '/v1/things' })).json().error.code).toBe('TOKEN_MISSING');
  });

  it('refuses a state change without the CSRF header, or from another origin, and changes nothing', async () => {
    const { cookie, body } = await login();
    const host = '127.0.0.1:7777';
    const none = await app.inject({ method: 'POST', url: '/v1/things', headers: { cookie, host } });
    expect(none.statusCode).toBe(403);
    expect(none.json().error.code).toBe('DASHBOARD_CSRF');
    const wrong = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { cookie, host, 'x-aibox-csrf': 'x'.repeat(43) },
    });
    expect(wrong.statusCode).toBe(403);
    const cross = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { cookie, host, 'x-aibox-csrf': body.csrf, origin: 'https://evil.example' },
    });
    expect(cross.statusCode).toBe(403);
    expect((await app.inject({ url: '/v1/things', headers: { cookie } })).json().changes).toBe(0);
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { cookie, host, 'x-aibox-csrf': body.csrf, origin: ORIGIN },
    });
    expect(ok.json()).toEqual({ changes: 1 });
  });

  it('refuses a cookie-authenticated WebSocket upgrade from another origin or without one', async () => {
    const { cookie } = await login();
    const upgrade = { cookie, host: '127.0.0.1:7777', upgrade: 'websocket', connection: 'upgrade' };
    const cross = await app.inject({
      url: '/v1/things',
      headers: { ...upgrade, origin: 'https://evil.example' },
    });
    expect(cross.json().error.code).toBe('DASHBOARD_CSRF');
    expect((await app.inject({ url: '/v1/things', headers: upgrade })).json().error.code).toBe(
      'DASHBOARD_CSRF',
    );
  });

  it('ends the session when its token is revoked, with the token error', async () => {
    const { cookie } = await login();
    revoked = true;
    const read = await app.inject({ url: '/v1/things', headers: { cookie } });
    expect(read.statusCode).toBe(401);
    expect(read.json().error.code).toBe('TOKEN_REVOKED');
    revoked = false;
    const again = await app.inject({ url: '/v1/things', headers: { cookie } });
    expect(again.json().error.code).toBe('DASHBOARD_SESSION_INVALID');
  });

  it('logs out (CSRF-checked) and forgets the session', async () => {
    const { cookie, body } = await login();
    const refused = await app.inject({ method: 'POST', url: '/dashboard/logout', headers: { cookie } });
    expect(refused.statusCode).toBe(403);
    const out = await app.inject({
      method: 'POST',
      url: '/dashboard/logout',
      headers: { cookie, 'x-aibox-csrf': body.csrf },
    });
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await app.inject({ url: '/v1/things', headers: { cookie } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/dashboard/session', headers: { cookie } })).statusCode).toBe(401);
  });

  it('keeps sessions across a daemon restart: hashed, without the token, and logout and expiry still end them', async () => {
    const file = path.join(dir, 'state', 'dashboard', 'sessions.json');
    await app.close();
    await build(undefined, file);
    const { cookie, body } = await login();
    const second = await login();
    await sessions.flush();
    const saved = await readFile(file, 'utf8');
    const id = cookie.split('=')[1]!;
    // Neither the session id (only its sha256), nor its CSRF token, nor the API token is on disk.
    expect(saved).not.toContain(id);
    expect(saved).not.toContain(body.csrf);
    expect(saved).not.toContain(TOKEN);
    expect(saved).toContain(createHash('sha256').update(id).digest('hex'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The restart: a new server over the same file.
    await app.close();
    await build(undefined, file);
    const read = await app.inject({ url: '/v1/things', headers: { cookie } });
    expect(read.json()).toMatchObject({ auth: true });
    const again = await app.inject({ url: '/dashboard/session', headers: { cookie } });
    expect(again.json()).toEqual({ subject: 'reviewer', csrf: body.csrf });
    const write = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { cookie, 'x-aibox-csrf': body.csrf, origin: ORIGIN, host: '127.0.0.1:7777' },
    });
    expect(write.statusCode).toBe(200);
    // Logging out is remembered too; the other session is not affected.
    await app.inject({
      method: 'POST',
      url: '/dashboard/logout',
      headers: { cookie, 'x-aibox-csrf': body.csrf },
    });
    await sessions.flush();
    await app.close();
    await build(undefined, file);
    expect((await app.inject({ url: '/v1/things', headers: { cookie } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/things', headers: { cookie: second.cookie } })).statusCode).toBe(
      200,
    );
    // Revocation after a restart: the token is re-checked by its id.
    revoked = true;
    const gone = await app.inject({ url: '/v1/things', headers: { cookie: second.cookie } });
    expect(gone.json().error.code).toBe('TOKEN_REVOKED');
  });

  it('drops saved sessions past their limits, and starts empty from a damaged file', async () => {
    const file = path.join(dir, 'sessions.json');
    let t = 1_000_000;
    const limits = { idleMs: 1000, maxAgeMs: 10_000, max: 10 };
    const first = await DashboardSessions.open(file, limits, () => t);
    const { id: idle } = first.create('tok_a', 'a');
    t += 500;
    const { id: busy } = first.create('tok_b', 'b');
    await first.flush();
    t += 900;
    const later = await DashboardSessions.open(file, limits, () => t);
    expect(later.size).toBe(1);
    expect(later.get(idle)).toBeUndefined();
    expect(later.get(busy)?.tokenId).toBe('tok_b');
    await writeFile(file, '{"version":1,"sessions":[{"key":"nope"}]}');
    expect((await DashboardSessions.open(file, limits, () => t)).size).toBe(0);
    await writeFile(file, 'not json');
    expect((await DashboardSessions.open(file, limits, () => t)).size).toBe(0);
  });

  it('ignores the cookie when a program sends its own Authorization header', async () => {
    const { cookie } = await login();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { cookie, authorization: `Bearer ${TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('dashboard session limits', () => {
  it('ends an idle session', async () => {
    await build({ idleMs: 1, maxAgeMs: 60_000, max: 10 });
    const { cookie } = await login();
    await new Promise((r) => setTimeout(r, 20));
    expect((await app.inject({ url: '/v1/things', headers: { cookie } })).json().error.code).toBe(
      'DASHBOARD_SESSION_INVALID',
    );
  });
});

describe('where the dashboard may be served', () => {
  it('serves on loopback, elsewhere only with TLS', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('[::1]')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(isLoopback('10.0.0.5')).toBe(false);
    expect(() => assertDashboardAddress('0.0.0.0', false)).toThrow(/without TLS/);
    expect(() => assertDashboardAddress('0.0.0.0', true)).not.toThrow();
    expect(() => assertDashboardAddress('127.0.0.1', false)).not.toThrow();
  });

  it('says the dashboard is not built when dist/web is missing', async () => {
    await rm(path.join(dir, 'index.html'));
    await build();
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('DASHBOARD_NOT_BUILT');
  });
});
