/** `POST /v1/sandboxes` starts a sandbox only from a JSON object: no body is a 400, never a sandbox. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

describe('POST /v1/sandboxes body', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon();
  });
  afterAll(() => daemon.close());

  it('refuses a request without a body and starts nothing', async () => {
    const answer = await daemon.api<{ error: { code: string; hint: string } }>('POST', '/v1/sandboxes');
    expect(answer.status).toBe(400);
    expect(answer.body.error.hint.length).toBeGreaterThan(0);
    expect((await daemon.api<{ sandboxes: unknown[] }>('GET', '/v1/sandboxes')).body.sandboxes).toEqual([]);
    expect(daemon.runtime.containers.size).toBe(0);
  });
});
