/**
 * The session API inside the real composition root (test daemon over the fake runtime): the network listener
 * serves the same app with bearer tokens, unix-socket routes stay unreachable to tokens, refusals are audited, the
 * token routes are root-only on the socket, and the OpenAPI document lists every route the daemon registered.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogues } from '../../scripts/errors-doc.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('the session API in the daemon', () => {
  let d: TestDaemon;
  let url: string;
  let admin: string;
  beforeAll(async () => {
    const port = await freePort();
    d = await startTestDaemon({ config: { sessions: { listener: { enabled: true, port } } } });
    url = `http://127.0.0.1:${port}`;
    const created = await d.api<{ token: string }>('POST', '/v1/tokens', { name: 'ops', scope: 'admin' });
    expect(created.status).toBe(201);
    admin = created.body.token;
  });
  afterAll(async () => d?.close());

  const get = async (path: string, token?: string) => {
    const res = await fetch(`${url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return {
      status: res.status,
      body: (await res.json()) as { error?: { code: string; details?: { decisionId?: string } } } & Record<
        string,
        unknown
      >,
    };
  };

  it('listens only when enabled, on the configured address, and answers in the error contract', async () => {
    expect(d.daemon.network?.url).toBe(url);
    const refused = await get('/v1/sessions');
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe('TOKEN_MISSING');
    expect(refused.body.error?.details?.decisionId).toMatch(/^dec_/); // audited like every 401/403
    expect((await get('/v1/nope', admin)).status).toBe(404);
  });

  it('keeps every unix-socket route away from tokens, admin ones included', async () => {
    for (const path of ['/v1/sandboxes', '/v1/secrets', '/v1/status', '/v1/audit', '/v1/pool']) {
      const r = await get(path, admin);
      expect([r.status, r.body.error?.code], path).toEqual([403, 'TOKEN_SCOPE']);
    }
    expect((await get('/v1/sessions', admin)).body).toEqual({ sessions: [] });
    expect((await get('/v1/tokens', admin)).status).toBe(200);
  });

  it('serves token management to root on the socket', async () => {
    const list = await d.api<{ tokens: { name: string; scope: string }[] }>('GET', '/v1/tokens');
    expect(list.body.tokens.map((t) => [t.name, t.scope])).toEqual([['ops', 'admin']]);
    expect((await d.api('DELETE', '/v1/tokens/ops')).status).toBe(200);
    expect((await get('/v1/sessions', admin)).body.error?.code).toBe('TOKEN_REVOKED');
  });

  it('documents every route the daemon registered', async () => {
    const doc = (await d.api<{ paths: Record<string, Record<string, unknown>> }>('GET', '/v1/openapi.json'))
      .body;
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => ({ method: m.toUpperCase(), url: p.replace(/\{([A-Za-z]+)\}/g, ':$1') })),
    );
    for (const r of documented) expect(d.daemon.app.hasRoute(r as never), `${r.method} ${r.url}`).toBe(true);
    for (const must of [
      '/v1/sandboxes',
      '/v1/sessions/{id}/files/tar',
      '/create_session',
      '/metrics',
      '/v1/tokens/{name}',
    ]) {
      expect(doc.paths[must], must).toBeDefined();
    }
    expect(documented.length).toBeGreaterThan(40);
  });

  it('lists the error codes of every route, each one a code of the catalogues', async () => {
    type Op = { 'x-error-codes': string[]; 'x-undocumented'?: boolean };
    const doc = (await d.api<{ paths: Record<string, Record<string, Op>> }>('GET', '/v1/openapi.json')).body;
    const known = new Set(
      (await loadCatalogues()).flatMap(({ catalogue }) => Object.keys(catalogue as Record<string, unknown>)),
    );
    const missing: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        // a route added without its codes: add a line to src/daemon/routes/openapi-errors.ts (or config.errors)
        if (op['x-undocumented']) missing.push(`${m.toUpperCase()} ${p}`);
        for (const code of op['x-error-codes']) expect(known.has(code), `${m} ${p}: ${code}`).toBe(true);
        expect(op['x-error-codes'], `${m} ${p}`).toContain('TOKEN_MISSING');
      }
    }
    expect(missing).toEqual([]);
    // the compatibility routes with their codes (the document is built from every route the app registered)
    for (const must of ['/create_session', '/execute', '/cleanup']) {
      expect(doc.paths[must]?.post?.['x-error-codes'], must).toContain('API_INVALID_REQUEST');
    }
    expect(doc.paths['/execute']?.post?.['x-error-codes']).toContain('SESSION_NOT_FOUND');
    expect(doc.paths['/v1/sandboxes/{name}/exec']?.post?.['x-error-codes']).toEqual(
      expect.arrayContaining(['SANDBOX_NOT_FOUND', 'SANDBOX_FORBIDDEN', 'POLICY_DENIED', 'TOKEN_SCOPE']),
    );
    expect(doc.paths['/v1/pool']?.get?.['x-error-codes']).toContain('API_ROOT_ONLY');
  });
});
