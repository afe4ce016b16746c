// Spying on the services' own methods (hooks' stop, started, close) is what these tests do.
/* eslint-disable @typescript-eslint/unbound-method */
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ApiErrorBody } from '../../src/shared/index.js';
import { FakeRuntime } from '../support/fake-runtime.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

/** The error code of an answer that must be in the contract. */
const codeOf = (body: unknown) => ApiErrorBody.parse(body).error.code;

const POLICY_FILE = 'aibox/policy.yaml';

describe('the composition root (startDaemon over a fake runtime)', () => {
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
    // No egress enforcement in this daemon: no network, although the git gate asked for one.
    expect(d.runtime.containerOf('box')?.spec.network).toBe(false);
    expect(d.runtime.containerOf('box')?.spec.env.AIBOX_GIT_GATEWAY).toMatch(/^http:/);
    const ran = await d.api('POST', '/v1/sandboxes/box/exec', { cmd: ['cat', 'README.md'] });
    expect(ran.status, JSON.stringify(ran.body)).toBe(200);
    expect(ran.body).toMatchObject({ exitCode: 0, stdout: '# app\n' });
    expect((await d.api('DELETE', '/v1/sandboxes/box')).status).toBe(200);
    expect((await d.api('GET', '/v1/sandboxes/box')).status).toBe(404);
  });

  it('derives the hook list from the named services, in start order', async () => {
    d = await startTestDaemon();
    const s = d.services;
    expect(s.hooks.map((h) => h.layer)).toEqual([
      'policy',
      'egress',
      'llm-proxy',
      'git-gate',
      'packs',
      'package-cache',
      'companions',
      'engine',
      'devcontainer',
      'proposals',
      'ssh-gateway',
    ]);
    expect(s.hooks.slice(1, 5)).toEqual([s.egress, s.llm, s.git, s.packs]);
    expect(s.hooks.slice(6)).toEqual([s.companions, s.engine, s.devcontainer, s.proposals, s.ssh]);
  });

  describe('bring-up rollback', () => {
    it('undoes every earlier step in reverse when a layer’s started() throws, names the layer, keeps no record', async () => {
      d = await startTestDaemon();
      const project = await d.makeProject();
      const stopped: string[] = [];
      for (const hook of d.services.hooks.filter((h) => h.stop)) {
        const stop = hook.stop!.bind(hook);
        vi.spyOn(hook, 'stop').mockImplementation(async (ctx) => {
          stopped.push(hook.layer);
          return stop(ctx);
        });
      }
      vi.spyOn(d.services.ssh, 'started').mockRejectedValueOnce(new Error('cannot register the sandbox'));
      const res = await d.api('POST', '/v1/sandboxes', { path: project, name: 'broken' });
      expect(res.status).toBe(503);
      expect(codeOf(res.body)).toBe('SANDBOX_LAYER_FAILED');
      expect(ApiErrorBody.parse(res.body).error.message).toContain('ssh-gateway');
      const withStop = d.services.hooks.filter((h) => h.stop).map((h) => h.layer);
      expect(stopped).toEqual(withStop.reverse());
      expect(stopped[0]).toBe('ssh-gateway');
      const calls = d.runtime.calls;
      const removed = calls.indexOf('removeContainer broken');
      expect(removed).toBeGreaterThan(calls.indexOf('startContainer broken'));
      expect(calls.slice(removed)).toContainEqual(expect.stringMatching(/^unmount sbx_/));
      expect(d.runtime.containerOf('broken')).toBeUndefined();
      expect((await d.api('GET', '/v1/sandboxes')).body).toEqual({ sandboxes: [] });
      // The name is free again: nothing was left behind.
      const again = await d.api('POST', '/v1/sandboxes', { path: project, name: 'broken' });
      expect(again.status, JSON.stringify(again.body)).toBe(201);
    });

    it('undoes only the layers that were set up when one fails at prepare', async () => {
      d = await startTestDaemon();
      const project = await d.makeProject();
      const stopped: string[] = [];
      for (const hook of d.services.hooks.filter((h) => h.stop)) {
        vi.spyOn(hook, 'stop').mockImplementation(async () => void stopped.push(hook.layer));
      }
      vi.spyOn(d.services.git, 'prepare').mockRejectedValueOnce(new Error('no gateway port'));
      const res = await d.api('POST', '/v1/sandboxes', { path: project, name: 'half' });
      expect(res.status).toBe(503);
      expect(ApiErrorBody.parse(res.body).error.message).toContain('git-gate');
      const setUp = ['policy', 'egress', 'llm-proxy', 'git-gate'];
      expect(stopped).toEqual(
        setUp.filter((l) => d!.services.hooks.find((h) => h.layer === l)?.stop).reverse(),
      );
      expect(stopped).toContain('git-gate');
      expect(d.runtime.calls.some((c) => c.startsWith('createContainer'))).toBe(false);
      expect((await d.api('GET', '/v1/sandboxes/half')).status).toBe(404);
    });

    it('removes the container and the layers when the container cannot start', async () => {
      d = await startTestDaemon();
      const project = await d.makeProject();
      d.runtime.failOn('startContainer');
      const res = await d.api('POST', '/v1/sandboxes', { path: project, name: 'nostart' });
      expect(res.status).toBe(503);
      expect(ApiErrorBody.parse(res.body).error.message).toMatch(/^runtime: /);
      expect(d.runtime.calls).toContain('removeContainer nostart');
      expect(d.runtime.containers.size).toBe(0);
      expect((await d.api('GET', '/v1/sandboxes')).body).toEqual({ sandboxes: [] });
    });
  });

  it('maps caller errors to 4xx codes in the contract', async () => {
    d = await startTestDaemon();
    const project = await d.makeProject();
    const rootOwned = path.join(d.dir, 'root-owned');
    await mkdir(rootOwned);
    const cases: [string, string, unknown, number, string][] = [
      ['GET', '/v1/sandboxes/nope', undefined, 404, 'SANDBOX_NOT_FOUND'],
      ['POST', '/v1/sandboxes', { path: 'relative/dir' }, 400, 'SANDBOX_PATH_INVALID'],
      ['POST', '/v1/sandboxes', { path: path.join(d.dir, 'missing') }, 400, 'SANDBOX_PATH_NOT_FOUND'],
      ['POST', '/v1/sandboxes', { path: rootOwned }, 400, 'SANDBOX_PATH_ROOT_OWNED'],
      ['POST', '/v1/sandboxes', { path: d.stateDir }, 400, 'SANDBOX_PATH_INVALID'],
      ['POST', '/v1/sandboxes', { path: project, name: 'Bad Name' }, 400, 'API_INVALID_REQUEST'],
      ['POST', '/v1/sandboxes', { path: project, profile: 'nope' }, 404, 'PROFILE_NOT_FOUND'],
      ['GET', '/v1/nothing-here', undefined, 404, 'API_ROUTE_NOT_FOUND'],
    ];
    for (const [method, route, body, status, code] of cases) {
      const res = await d.api(method, route, body);
      expect({ route, status: res.status, code: codeOf(res.body) }).toEqual({ route, status, code });
    }
    expect((await d.api('POST', '/v1/sandboxes', { path: project, name: 'one' })).status).toBe(201);
    const taken = await d.api('POST', '/v1/sandboxes', { path: project, name: 'one' });
    expect([taken.status, codeOf(taken.body)]).toEqual([409, 'SANDBOX_NAME_TAKEN']);
    expect((await d.api('POST', '/v1/sandboxes/one/stop')).status).toBe(200);
    const stopped = await d.api('POST', '/v1/sandboxes/one/exec', { cmd: ['true'] });
    expect([stopped.status, codeOf(stopped.body)]).toEqual([409, 'SANDBOX_NOT_RUNNING']);
    d.runtime.podmanUp = false;
    const down = await d.api('POST', '/v1/sandboxes', { path: project, name: 'two' });
    expect([down.status, codeOf(down.body)]).toEqual([503, 'RUNTIME_PODMAN_SERVICE']);
  });

  describe('exec always asks policy', () => {
    const denyCat = { [POLICY_FILE]: 'commands:\n  deny:\n    - cat\n' };

    it('refuses a command the policy denies, over POST and over the WebSocket, and runs the others', async () => {
      d = await startTestDaemon();
      const project = await d.makeProject('strict', { 'README.md': 'hi\n', ...denyCat });
      expect((await d.api('POST', '/v1/sandboxes', { path: project, name: 'strict' })).status).toBe(201);
      const denied = await d.api('POST', '/v1/sandboxes/strict/exec', { cmd: ['cat', 'README.md'] });
      expect([denied.status, codeOf(denied.body)]).toEqual([403, 'POLICY_DENIED']);
      expect(d.runtime.calls.some((c) => c.startsWith('exec strict cat'))).toBe(false);
      const ok = await d.api('POST', '/v1/sandboxes/strict/exec', { cmd: ['ls'] });
      expect(ok.body).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('README.md') });

      const ws = new WebSocket(`ws+unix://${d.socket}:/v1/sandboxes/strict/exec/ws`);
      const messages: string[] = [];
      const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) messages.push(data.toString('utf8'));
      });
      await new Promise<void>((resolve, reject) => ws.on('open', resolve).on('error', reject));
      ws.send(JSON.stringify({ type: 'start', spec: { cmd: ['cat', 'README.md'] } }));
      await closed;
      expect(messages.map((m) => JSON.parse(m) as unknown)).toContainEqual({
        type: 'error',
        error: expect.objectContaining({ code: 'POLICY_DENIED' }),
      });
      expect(d.runtime.calls.some((c) => c.startsWith('exec strict cat'))).toBe(false);
    });
  });

  it('shows the policy actually enforced, with the error, when a layer refuses a reload', async () => {
    d = await startTestDaemon();
    const project = await d.makeProject('reload', {
      'README.md': 'x\n',
      [POLICY_FILE]: 'network:\n  allow:\n    - registry.npmjs.org\n',
    });
    expect((await d.api('POST', '/v1/sandboxes', { path: project, name: 'reload' })).status).toBe(201);
    const before = await d.api<{ doors: { egress: { allowDomains: string[] } } }>(
      'GET',
      '/v1/policy?sandbox=reload',
    );
    expect(before.body.doors.egress.allowDomains).toEqual(['registry.npmjs.org']);
    d.services.policy.onChange('egress', 'test-layer', () => {
      throw new Error('the ruleset cannot be applied');
    });
    await writeFile(path.join(project, POLICY_FILE), 'network:\n  allow:\n    - github.com\n');
    expect(await d.services.policy.store.reloadProject('reload')).toEqual({ ok: true });

    const shown = await d.api<{
      doors: { egress: { allowDomains: string[] } };
      errors: { code: string; message: string }[];
    }>('GET', '/v1/policy?sandbox=reload');
    expect(shown.body.doors.egress.allowDomains).toEqual(['registry.npmjs.org']);
    expect(shown.body.errors).toContainEqual(
      expect.objectContaining({
        code: 'POLICY_LAYER_REFUSED',
        message: expect.stringContaining('test-layer refused'),
      }),
    );
    // Doors no layer refused apply as usual: the store itself has the new value.
    expect(d.services.policy.store.show('reload').doors.egress).toMatchObject({
      allowDomains: ['github.com'],
    });
  });

  it('closes every service in reverse build order at shutdown, then stops the runtime', async () => {
    d = await startTestDaemon();
    const s = d.services;
    const closed: string[] = [];
    const named = {
      audit: s.audit,
      credentials: s.credentials,
      policy: s.hooks[0]!,
      egress: s.egress,
      'llm-proxy': s.llm,
      'git-gate': s.git,
      packs: s.packs,
      'ssh-gateway': s.ssh,
      sandboxes: s.sandboxes,
    };
    for (const [name, service] of Object.entries(named)) {
      const close = service.close.bind(service);
      vi.spyOn(service, 'close').mockImplementation(async () => {
        closed.push(name);
        await close();
      });
    }
    const sshPort = s.ssh.info()!.port;
    const stopsBefore = d.runtime.calls.filter((c) => c === 'stop').length;
    await d.daemon.close();
    expect(closed).toEqual(Object.keys(named).reverse());
    expect(d.runtime.calls.filter((c) => c === 'stop').length).toBe(stopsBefore + 1);
    expect(await connects(sshPort)).toBe(false);
    await expect(s.audit.append({ kind: 'test', data: {} })).rejects.toMatchObject({ code: 'AUDIT_CLOSED' });
  });

  it('does not start when a layer cannot be built, and undoes what was built', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const runtime = new FakeRuntime('/unused');
    try {
      await expect(startTestDaemon({ runtime, config: { sshGateway: { port } } })).rejects.toThrow(
        String(port),
      );
      expect(runtime.calls.at(-1)).toBe('stop');
    } finally {
      blocker.close();
    }
  });
});

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
