/**
 * A sandbox's processes and exec timeouts through aiboxd's API and CLI, in a real gVisor sandbox: a command
 * started over the API shows in `GET /processes`, `DELETE /processes/:pid` ends it, the root aibox-exec the agent
 * keeps ready cannot be signalled, and an exec with a 1 s timeout on `sleep 10` answers 137 with timedOut.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'processes API integration');

interface Proc {
  pid: number;
  uid: number;
  cmd: string;
}

describe.runIf(run)('processes and exec timeouts through the API', () => {
  let daemon: TestDaemon;
  let project: string;
  const name = 'procs';

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'processes-api' });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('processes-api');
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name, profile: 'session' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  const list = async (): Promise<Proc[]> => {
    const r = await daemon.api<{ processes: Proc[] }>('GET', `/v1/sandboxes/${name}/processes`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.processes;
  };

  it('lists a sleep 30 started through exec, and DELETE ends it', async () => {
    const running = daemon.api<{ exitCode: number }>('POST', `/v1/sandboxes/${name}/exec`, {
      cmd: ['sleep', '30'],
    });
    let sleeper: Proc | undefined;
    for (let i = 0; i < 50 && !sleeper; i++) {
      sleeper = (await list()).find((p) => p.cmd === 'sleep 30');
      if (!sleeper) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sleeper, 'sleep 30 never showed in the list').toBeDefined();
    expect(sleeper!.uid).not.toBe(0);
    const began = Date.now();
    const killed = await daemon.api('DELETE', `/v1/sandboxes/${name}/processes/${sleeper!.pid}?signal=TERM`);
    expect([killed.status, killed.body]).toEqual([200, { pid: sleeper!.pid, signal: 'TERM' }]);
    const ended = await running;
    expect(ended.body.exitCode).toBe(143);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect((await list()).map((p) => p.pid)).not.toContain(sleeper!.pid);
    const again = await daemon.api<{ error: { code: string } }>(
      'DELETE',
      `/v1/sandboxes/${name}/processes/${sleeper!.pid}`,
    );
    expect([again.status, again.body.error.code]).toEqual([404, 'RUNTIME_PROCESS_NOT_FOUND']);
  }, 60_000);

  it('refuses to signal pid 1 (the agent) and a root process', async () => {
    const agent = await daemon.api<{ error: { code: string } }>(
      'DELETE',
      `/v1/sandboxes/${name}/processes/1?signal=KILL`,
    );
    expect([agent.status, agent.body.error.code]).toEqual([403, 'SANDBOX_PROCESS_PROTECTED']);
    const roots = (await list()).filter((p) => p.uid === 0);
    // The aibox-exec the agent keeps started ahead of time (root until it takes a command).
    expect(roots.map((p) => p.cmd).join('\n')).toContain('aibox-exec');
    for (const p of roots) {
      const r = await daemon.api<{ error: { code: string } }>(
        'DELETE',
        `/v1/sandboxes/${name}/processes/${p.pid}?signal=KILL`,
      );
      expect([r.status, r.body.error.code], p.cmd).toEqual([403, 'SANDBOX_PROCESS_PROTECTED']);
    }
    // The sandbox still answers.
    const ok = await daemon.api<{ exitCode: number }>('POST', `/v1/sandboxes/${name}/exec`, {
      cmd: ['true'],
    });
    expect(ok.body.exitCode).toBe(0);
  }, 60_000);

  it('kills a sleep 10 after a 1 s timeout: exit 137, timedOut', async () => {
    const began = Date.now();
    const r = await daemon.api<{ exitCode: number; timedOut?: boolean }>(
      'POST',
      `/v1/sandboxes/${name}/exec`,
      {
        cmd: ['sleep', '10'],
        timeoutSeconds: 1,
      },
    );
    const took = Date.now() - began;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ exitCode: 137, timedOut: true });
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5_000);
    expect((await list()).some((p) => p.cmd.startsWith('sleep 10'))).toBe(false);
    const cli = await daemon.cli(['exec', '--timeout', '1', name, '--', 'sleep', '10']);
    expect(cli.exitCode).toBe(137);
  }, 60_000);
});
