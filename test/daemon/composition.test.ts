import { afterEach, describe, expect, it } from 'vitest';
import { ApiErrorBody } from '../../src/shared/index.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

describe('the composition root over a fake runtime', () => {
  let d: TestDaemon | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it('creates a sandbox through every layer, execs in it, and removes it', async () => {
    d = await startTestDaemon();
    const project = await d.makeProject('app');
    const created = await d.api('POST', '/v1/sandboxes', { path: project, name: 'box' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // No egress enforcement in this daemon: no network, whoever asked for one.
    expect(d.runtime.containerOf('box')?.spec.network).toBe(false);
    const ran = await d.api('POST', '/v1/sandboxes/box/exec', { cmd: ['cat', 'README.md'] });
    expect(ran.status, JSON.stringify(ran.body)).toBe(200);
    expect(ran.body).toMatchObject({ exitCode: 0, stdout: '# app\n' });
    const removed = await d.api('DELETE', '/v1/sandboxes/box');
    expect(removed.status).toBe(200);
    expect((await d.api('GET', '/v1/sandboxes/box')).status).toBe(404);
  });

  it('maps errors to the contract with 4xx codes', async () => {
    d = await startTestDaemon();
    const missing = await d.api('GET', '/v1/sandboxes/nope');
    expect(missing.status).toBe(404);
    expect(ApiErrorBody.parse(missing.body).error.code).toBe('SANDBOX_NOT_FOUND');
  });
});
