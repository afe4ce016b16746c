/**
 * The daemon's wiring of the dashboard's own port (`dashboard.enabled`, no network listener): the page and login
 * answer there in the API's contract, a program's bearer token is refused, and nothing listens when it is off.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe("the dashboard's own port", () => {
  let daemon: TestDaemon | undefined;
  afterEach(async () => {
    await daemon?.close();
    daemon = undefined;
  });

  it('serves the login there without the network listener, and refuses bearer tokens', async () => {
    const port = await freePort();
    daemon = await startTestDaemon({ config: { dashboard: { enabled: true, port } } });
    const base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ token: 'aibox_tok_000000000000_not-a-real-token' }),
    });
    // The login route itself read the token and refused it.
    expect(login.status).toBe(401);
    expect(((await login.json()) as { error: { code: string } }).error.code).toBe('TOKEN_INVALID');
    const program = await fetch(`${base}/v1/sandboxes`, { headers: { authorization: 'Bearer aibox_tok_x' } });
    expect(program.status).toBe(401);
    expect(((await program.json()) as { error: { code: string } }).error.code).toBe(
      'DASHBOARD_SESSION_INVALID',
    );
    // The unix socket is unchanged.
    expect((await daemon.api('GET', '/v1/sandboxes')).status).toBe(200);
  });

  it('logs in with an admin token, acts as that token, and keeps the session hashed in the state directory', async () => {
    const port = await freePort();
    daemon = await startTestDaemon({ config: { dashboard: { enabled: true, port } } });
    const created = await daemon.api('POST', '/v1/tokens', { name: 'reviewer', scope: 'admin' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const token = (created.body as { token: string }).token;
    const base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ token }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const list = await fetch(`${base}/v1/sandboxes`, { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ sandboxes: [] });
    // Not a dashboard route: refused whatever the cookie.
    expect((await fetch(`${base}/v1/secrets`, { headers: { cookie } })).status).toBe(403);
    await expect
      .poll(async () =>
        readFile(path.join(daemon!.stateDir, 'dashboard', 'sessions.json'), 'utf8').catch(() => ''),
      )
      .toContain('"tokenId"');
    const saved = await readFile(path.join(daemon.stateDir, 'dashboard', 'sessions.json'), 'utf8');
    expect(saved).not.toContain(cookie.split('=')[1]!);
    expect(saved).not.toContain(token);
    // Revoking the token ends the session at once.
    expect((await daemon.api('DELETE', '/v1/tokens/reviewer')).status).toBe(200);
    const after = await fetch(`${base}/v1/sandboxes`, { headers: { cookie } });
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe('TOKEN_REVOKED');
  });

  it('opens no port when off (the default)', async () => {
    const port = await freePort();
    daemon = await startTestDaemon({ config: { dashboard: { port } } });
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
