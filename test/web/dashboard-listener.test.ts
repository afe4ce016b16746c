import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../src/tokens/index.js';
import {
  installTokenAuth,
  isNetworkRequest,
  NETWORK_CALLER,
  startNetworkListener,
  type NetworkListener,
} from '../../src/daemon/http/token-auth.js';
import { toErrorAnswer } from '../../src/daemon/http/contract.js';
import { registerDashboard } from '../../src/daemon/dashboard/register.js';
import { startDashboardListener } from '../../src/daemon/dashboard/listener.js';
import { DAEMON_CALLER, type Caller, type Logger } from '../../src/shared/index.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/**
 * The dashboard on the daemon's real network listener with the real bearer-token authentication and token store:
 * only the API routes are stand-ins.
 */
describe('dashboard on the network listener', () => {
  let dir: string;
  let app: FastifyInstance;
  let listener: NetworkListener;
  let ownPort: NetworkListener;
  let store: TokenStore;
  let admin: string;
  let user: string;
  let approvals = 0;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-dash-listener-'));
    await mkdir(path.join(dir, 'web'));
    await writeFile(path.join(dir, 'web', 'index.html'), '<!doctype html><title>aibox</title>');
    store = await TokenStore.open(path.join(dir, 'state'));
    admin = (await store.create({ name: 'reviewer', scope: 'admin' })).token;
    user = (await store.create({ name: 'agent', scope: 'sessions' })).token;
    app = Fastify();
    app.setErrorHandler((err, _request, reply) => {
      const answer = toErrorAnswer(err);
      return reply.status(answer.status).send(answer.payload);
    });
    await registerDashboard(app, {
      tokens: () => store,
      endpoints: [
        { host: '127.0.0.1', tls: false },
        { host: 'localhost', tls: false },
      ],
      webDir: path.join(dir, 'web'),
    });
    installTokenAuth(app, () => store);
    // As the access check does: a network request's caller has no uid.
    app.decorateRequest('caller', null as unknown as Caller);
    app.addHook('onRequest', async (request) => {
      request.caller = isNetworkRequest(request.raw) ? NETWORK_CALLER : DAEMON_CALLER;
    });
    app.get('/v1/sandboxes', async () => ({ sandboxes: [] }));
    app.get('/v1/sandboxes/:name', async (request) => ({ uid: request.caller.uid }));
    app.post('/v1/pushes/:id/approve', async () => ({ approved: ++approvals }));
    app.get('/v1/secrets', async () => ({ secrets: ['never over the network'] }));
    app.get('/v1/sessions', { config: { tokenScope: 'sessions' } }, async () => ({ sessions: [] }));
    await app.ready();
    listener = await startNetworkListener(
      app,
      { enabled: true, host: '127.0.0.1', port: 0, dashboard: true },
      quiet,
    );
    ownPort = await startDashboardListener(app, { enabled: true, host: '127.0.0.1', port: 0 }, quiet);
  });

  afterAll(async () => {
    await ownPort?.close();
    await listener?.close();
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = async (
    method: string,
    route: string,
    headers: Record<string, string> = {},
    body?: unknown,
    base = listener.url,
  ) => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json, headers: res.headers };
  };
  const login = async (token: string, base = listener.url) => {
    const r = await call('POST', '/dashboard/login', { origin: base }, { token }, base);
    return { ...r, cookie: (r.headers.get('set-cookie') ?? '').split(';')[0]! };
  };

  it('serves the page without a token, but no API route', async () => {
    const page = await call('GET', '/');
    expect(page.status).toBe(200);
    expect(page.json).toContain('<title>aibox</title>');
    expect((await call('GET', '/v1/sandboxes')).json.error.code).toBe('TOKEN_MISSING');
  });

  it('logs in with an admin token only', async () => {
    const refused = await login(user);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('TOKEN_SCOPE');
    expect(refused.headers.get('set-cookie')).toBeNull();
    expect((await login('aibox_tok_nope')).json.error.code).toBe('TOKEN_INVALID');
    const ok = await login(admin);
    expect(ok.status).toBe(200);
    expect(ok.json.subject).toBe('reviewer');
  });

  it("serves the dashboard's API routes to the session cookie, and nothing beyond them", async () => {
    const { cookie, json } = await login(admin);
    expect((await call('GET', '/v1/sandboxes', { cookie })).json).toEqual({ sandboxes: [] });
    // Not a dashboard route: the unix socket's only, whatever the cookie.
    const secrets = await call('GET', '/v1/secrets', { cookie });
    expect(secrets.status).toBe(403);
    expect(secrets.json.error.code).toBe('TOKEN_SCOPE');
    // A route with its own scope keeps it.
    expect((await call('GET', '/v1/sessions', { cookie })).status).toBe(200);
    const noCsrf = await call('POST', '/v1/pushes/push_abc123/approve', { cookie }, {});
    expect(noCsrf.json.error.code).toBe('DASHBOARD_CSRF');
    expect(approvals).toBe(0);
    const ok = await call(
      'POST',
      '/v1/pushes/push_abc123/approve',
      { cookie, 'x-aibox-csrf': json.csrf, origin: listener.url },
      {},
    );
    expect(ok.json).toEqual({ approved: 1 });
  });

  it('lets an admin dashboard session act as root on the dashboard routes, and no one else', async () => {
    const { cookie } = await login(admin);
    expect((await call('GET', '/v1/sandboxes/box', { cookie })).json).toEqual({ uid: 0 });
    // A program with the same admin token keeps the network caller (no uid).
    expect((await call('GET', '/v1/sandboxes/box', { authorization: `Bearer ${admin}` })).json).toEqual({
      uid: -1,
    });
  });

  it('keeps programs on their bearer token, scoped as before', async () => {
    expect((await call('GET', '/v1/sandboxes', { authorization: `Bearer ${user}` })).json.error.code).toBe(
      'TOKEN_SCOPE',
    );
    expect((await call('GET', '/v1/sandboxes', { authorization: `Bearer ${admin}` })).status).toBe(200);
  });

  it("serves the dashboard on its own port, and only the dashboard: no program's bearer token there", async () => {
    const base = ownPort.url;
    const page = await call('GET', '/', {}, undefined, base);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // An admin token that the network listener would take: refused here, nothing served.
    const program = await call('GET', '/v1/sandboxes', { authorization: `Bearer ${admin}` }, undefined, base);
    expect(program.status).toBe(401);
    expect(program.json.error.code).toBe('DASHBOARD_SESSION_INVALID');
    expect((await call('GET', '/v1/sandboxes', {}, undefined, base)).json.error.code).toBe(
      'DASHBOARD_SESSION_INVALID',
    );
    // Any other route is refused too, cookie or not (an unknown cookie is no session).
    expect(
      (await call('GET', '/v1/secrets', { cookie: 'aibox_session=guess' }, undefined, base)).status,
    ).toBe(401);
    expect((await login(user, base)).json.error.code).toBe('TOKEN_SCOPE');
    const { cookie, json, headers } = await login(admin, base);
    expect(headers.get('set-cookie')).toMatch(/^aibox_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict/);
    expect((await call('GET', '/v1/sandboxes', { cookie }, undefined, base)).json).toEqual({ sandboxes: [] });
    expect((await call('GET', '/v1/sandboxes/box', { cookie }, undefined, base)).json).toEqual({ uid: 0 });
    expect((await call('GET', '/v1/secrets', { cookie }, undefined, base)).json.error.code).toBe(
      'TOKEN_SCOPE',
    );
    // CSRF as on the listener: the header and this port's own origin.
    const foreign = await call(
      'POST',
      '/v1/pushes/push_abc123/approve',
      { cookie, 'x-aibox-csrf': json.csrf, origin: listener.url },
      {},
      base,
    );
    expect(foreign.json.error.code).toBe('DASHBOARD_CSRF');
    const before = approvals;
    const ok = await call(
      'POST',
      '/v1/pushes/push_abc123/approve',
      { cookie, 'x-aibox-csrf': json.csrf, origin: base },
      {},
      base,
    );
    expect(ok.json).toEqual({ approved: before + 1 });
    const out = await call(
      'POST',
      '/dashboard/logout',
      { cookie, 'x-aibox-csrf': json.csrf, origin: base },
      {},
      base,
    );
    expect(out.json).toEqual({ loggedOut: true });
    expect((await call('GET', '/v1/sandboxes', { cookie }, undefined, base)).status).toBe(401);
  });

  it('ends the session when its token is revoked', async () => {
    const { cookie } = await login(admin);
    await store.revoke('reviewer');
    const r = await call('GET', '/v1/sandboxes', { cookie });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('TOKEN_REVOKED');
    expect((await call('GET', '/dashboard/session', { cookie })).status).toBe(401);
  });

  it('refuses to serve the dashboard off loopback without TLS', async () => {
    const other = Fastify();
    await expect(
      registerDashboard(other, {
        tokens: () => store,
        endpoints: [
          { host: '127.0.0.1', tls: false },
          { host: '0.0.0.0', tls: false },
        ],
      }),
    ).rejects.toMatchObject({ code: 'DASHBOARD_INSECURE' });
    await other.close();
  });

  it('leaves the unix socket (in-process requests) as it was', async () => {
    expect((await app.inject({ url: '/v1/secrets' })).statusCode).toBe(200);
  });
});
