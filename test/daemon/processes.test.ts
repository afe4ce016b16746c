import { spawn } from 'node:child_process';
import { chmod, stat } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiErrorBody } from '../../src/shared/index.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

const codeOf = (body: unknown) => ApiErrorBody.parse(body).error.code;
const OTHER_UID = 1002;

/** One request over the daemon's socket from a child process running as `uid` (SO_PEERCRED names it). */
function requestAs(
  uid: number,
  gid: number,
  socket: string,
  method: string,
  route: string,
): Promise<{ status: number; body: unknown }> {
  const script = `
    const req = require('node:http').request({ socketPath: ${JSON.stringify(socket)}, path: ${JSON.stringify(route)}, method: ${JSON.stringify(method)} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: JSON.parse(text) })));
    });
    req.on('error', (e) => { process.stderr.write(String(e)); process.exit(2); });
    req.end();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as never) : reject(new Error(err))));
  });
}

describe('a sandbox’s processes through the API (fake runtime)', () => {
  let d: TestDaemon | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  async function withBox(files?: Record<string, string>): Promise<TestDaemon> {
    d = await startTestDaemon();
    const project = await d.makeProject('app', files);
    const created = await d.api('POST', '/v1/sandboxes', { path: project, name: 'box' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return d;
  }

  it('lists a running command and ends it with the signal asked for', async () => {
    const t = await withBox();
    const session = await t.services.sandboxes.exec('box', { cmd: ['sleep', '30'] });
    const listed = await t.api<{ processes: { pid: number; uid: number; cmd: string }[] }>(
      'GET',
      '/v1/sandboxes/box/processes',
    );
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    const sleeper = listed.body.processes.find((p) => p.cmd === 'sleep 30');
    expect(sleeper?.pid).toBe(session.pid);
    const killed = await t.api('DELETE', `/v1/sandboxes/box/processes/${sleeper!.pid}?signal=KILL`);
    expect([killed.status, killed.body]).toEqual([200, { pid: sleeper!.pid, signal: 'KILL' }]);
    expect(await session.exit).toBe(137);
    const after = await t.api<{ processes: { cmd: string }[] }>('GET', '/v1/sandboxes/box/processes');
    expect(after.body.processes.map((p) => p.cmd)).not.toContain('sleep 30');
  });

  it('sends TERM by default and refuses other signals', async () => {
    const t = await withBox();
    const session = await t.services.sandboxes.exec('box', { cmd: ['sleep', '30'] });
    const bad = await t.api('DELETE', `/v1/sandboxes/box/processes/${session.pid}?signal=STOP`);
    expect([bad.status, codeOf(bad.body)]).toEqual([400, 'API_INVALID_REQUEST']);
    const killed = await t.api('DELETE', `/v1/sandboxes/box/processes/${session.pid}`);
    expect(killed.body).toEqual({ pid: session.pid, signal: 'TERM' });
    expect(await session.exit).toBe(143);
  });

  it('answers 404 for an unknown pid and 403 for pid 1 or a root process, without signalling', async () => {
    const t = await withBox();
    const unknown = await t.api('DELETE', '/v1/sandboxes/box/processes/999999');
    expect([unknown.status, codeOf(unknown.body)]).toEqual([404, 'RUNTIME_PROCESS_NOT_FOUND']);
    // The fake lists a root aibox-exec at pid 1, like a sandbox's pre-started one.
    const root = await t.api('DELETE', '/v1/sandboxes/box/processes/1?signal=KILL');
    expect([root.status, codeOf(root.body)]).toEqual([403, 'SANDBOX_PROCESS_PROTECTED']);
    expect(t.runtime.calls.filter((c) => c.startsWith('killProcess'))).toEqual([]);
    const gone = await t.api('GET', '/v1/sandboxes/nope/processes');
    expect([gone.status, codeOf(gone.body)]).toEqual([404, 'SANDBOX_NOT_FOUND']);
  });

  it('lets the exec door decide: a policy denying ps and kill refuses both routes', async () => {
    const t = await withBox({
      'README.md': 'x\n',
      'aibox/policy.yaml': 'commands:\n  deny:\n    - ps\n    - kill\n',
    });
    const session = await t.services.sandboxes.exec('box', { cmd: ['sleep', '30'] });
    const listed = await t.api('GET', '/v1/sandboxes/box/processes');
    expect([listed.status, codeOf(listed.body)]).toEqual([403, 'POLICY_DENIED']);
    const killed = await t.api('DELETE', `/v1/sandboxes/box/processes/${session.pid}`);
    expect([killed.status, codeOf(killed.body)]).toEqual([403, 'POLICY_DENIED']);
    expect(t.runtime.calls.filter((c) => c.startsWith('killProcess'))).toEqual([]);
    process.kill(session.pid!, 'SIGKILL');
    await session.exit;
  });

  it('refuses another user, as exec does, and audits the refusal', async () => {
    const t = await withBox();
    await chmod(t.dir, 0o711);
    // A member of the socket's group (root's group when the test host has no aibox-users group).
    const { gid } = await stat(t.socket);
    const res = await requestAs(OTHER_UID, gid, t.socket, 'GET', '/v1/sandboxes/box/processes');
    expect([res.status, codeOf(res.body)]).toEqual([403, 'SANDBOX_FORBIDDEN']);
    const kill = await requestAs(OTHER_UID, gid, t.socket, 'DELETE', '/v1/sandboxes/box/processes/2');
    expect([kill.status, codeOf(kill.body)]).toEqual([403, 'SANDBOX_FORBIDDEN']);
    const refused = await t.services.audit.tail({ kind: 'api.refused', limit: 100 });
    expect(refused.map((e) => e.data)).toContainEqual(
      expect.objectContaining({ code: 'SANDBOX_FORBIDDEN', method: 'DELETE', callerUid: OTHER_UID }),
    );
    expect(t.runtime.calls.filter((c) => c.startsWith('killProcess'))).toEqual([]);
  });

  it('passes an exec timeout to the runtime: exit 137 and timedOut, over POST and the WebSocket', async () => {
    const t = await withBox();
    const began = Date.now();
    const ran = await t.api('POST', '/v1/sandboxes/box/exec', { cmd: ['sleep', '10'], timeoutSeconds: 0.3 });
    expect(ran.status, JSON.stringify(ran.body)).toBe(200);
    expect(ran.body).toMatchObject({ exitCode: 137, timedOut: true });
    expect(Date.now() - began).toBeLessThan(5000);
    const quick = await t.api('POST', '/v1/sandboxes/box/exec', { cmd: ['true'], timeoutSeconds: 5 });
    expect(quick.body).toEqual({ exitCode: 0, stdout: '', stderr: '', truncated: false });
    const bad = await t.api('POST', '/v1/sandboxes/box/exec', { cmd: ['true'], timeoutSeconds: -1 });
    expect([bad.status, codeOf(bad.body)]).toEqual([400, 'API_INVALID_REQUEST']);

    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`ws+unix://${t.socket}:/v1/sandboxes/box/exec/ws`);
    const messages: unknown[] = [];
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) messages.push(JSON.parse(data.toString('utf8')));
    });
    await new Promise<void>((resolve, reject) => ws.on('open', resolve).on('error', reject));
    ws.send(JSON.stringify({ type: 'start', spec: { cmd: ['sleep', '10'], timeoutSeconds: 0.3 } }));
    await closed;
    expect(messages).toContainEqual({ type: 'exit', exitCode: 137, timedOut: true });
  });
});
