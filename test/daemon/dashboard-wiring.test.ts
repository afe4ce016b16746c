/**
 * The composition root serves the web dashboard on the network listener only when `sessions.listener.dashboard` is
 * set: its login route answers in the API's contract then, and is not there otherwise.
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

async function login(port: number): Promise<{ status: number; code?: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` },
    body: JSON.stringify({ token: 'aibox_tok_000000000000_not-a-real-token' }),
  });
  const body = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, code: body.error?.code };
}

describe('dashboard wiring', () => {
  let daemon: TestDaemon | undefined;
  afterEach(async () => {
    await daemon?.close();
    daemon = undefined;
  });

  it('serves the dashboard login on the listener when the dashboard is switched on', async () => {
    const port = await freePort();
    daemon = await startTestDaemon({
      config: { sessions: { listener: { enabled: true, port, dashboard: true } } },
    });
    const answer = await login(port);
    // The login route itself read the token in the body and refused it.
    expect(answer).toEqual({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('has no dashboard route when the dashboard is off (the default)', async () => {
    const port = await freePort();
    daemon = await startTestDaemon({ config: { sessions: { listener: { enabled: true, port } } } });
    const answer = await login(port);
    // No login route: the listener's token check refuses the request for want of a bearer token.
    expect(answer).toEqual({ status: 401, code: 'TOKEN_MISSING' });
  });
});
