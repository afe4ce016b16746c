/**
 * The daemon's wiring of the dashboard's own port (`dashboard.enabled`, no network listener): the page and login
 * answer there in the API's contract, a program's bearer token is refused, and nothing listens when it is off.
 */
import { createServer } from 'node:net';
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

  it('opens no port when off (the default)', async () => {
    const port = await freePort();
    daemon = await startTestDaemon({ config: { dashboard: { port } } });
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
