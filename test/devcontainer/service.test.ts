import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

const DC = '.devcontainer/devcontainer.json';

/** The devcontainer layer through the real composition root, over the fake runtime (commands run on the host). */
describe('the devcontainer layer', () => {
  let d: TestDaemon | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it('sets the environment, runs postCreate once and postStart at each start, through the exec door', async () => {
    d = await startTestDaemon();
    const project = await d.makeProject('app', {
      [DC]: JSON.stringify({
        containerEnv: { GREETING: 'hi ${containerWorkspaceFolder}' },
        postCreateCommand: 'echo made >> made.txt',
        postStartCommand: ['sh', '-c', 'echo start >> started.txt'],
        forwardPorts: [8000],
      }),
    });
    const created = await d.api('POST', '/v1/sandboxes', { path: project, name: 'box' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.devcontainer).toMatchObject({
      file: DC,
      forwardPorts: [8000],
      commands: [
        { from: 'postCreateCommand', phase: 'postCreate', exitCode: 0 },
        { from: 'postStartCommand', phase: 'postStart', exitCode: 0 },
      ],
    });
    expect(d.runtime.containerOf('box')?.spec.env.GREETING).toBe('hi /workspace');
    expect((await d.api('POST', '/v1/sandboxes/box/stop')).status).toBe(200);
    const again = await d.api('POST', '/v1/sandboxes/box/start');
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.devcontainer.commands.map((c: { from: string }) => c.from)).toEqual([
      'postStartCommand',
    ]);
    expect(await readFile(path.join(project, 'made.txt'), 'utf8')).toBe('made\n');
    expect(await readFile(path.join(project, 'started.txt'), 'utf8')).toBe('start\nstart\n');
  });

  it('a command the exec door refuses is reported and stops its phase; the sandbox runs', async () => {
    d = await startTestDaemon();
    const project = await d.makeProject('deny', {
      [DC]: JSON.stringify({ postCreateCommand: { a: ['curl', 'http://x'], b: 'echo b > b.txt' } }),
      'aibox/policy.yaml': 'commands:\n  deny: [curl]\n',
    });
    const created = await d.api('POST', '/v1/sandboxes', { path: project, name: 'deny' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const cmds = created.body.devcontainer.commands as { from: string; refused?: string }[];
    expect(cmds).toHaveLength(1);
    expect(cmds[0]!.from).toBe('postCreateCommand.a');
    expect(cmds[0]!.refused).toMatch(/command curl is denied .*decision dec_/);
    expect(existsSync(path.join(project, 'b.txt'))).toBe(false);
    expect(created.body.state).toBe('running');
  });

  it('asks the mounts door for each bind and refuses reserved targets, failing the start with nothing left', async () => {
    d = await startTestDaemon();
    const denied = await d.makeProject('m1', {
      [DC]: JSON.stringify({ mounts: ['source=/etc,target=/mnt/etc,type=bind'] }),
    });
    const a = await d.api('POST', '/v1/sandboxes', { path: denied, name: 'm1' });
    expect(a.status).toBe(403);
    expect(a.body.error.code).toBe('POLICY_DENIED');
    expect(a.body.error.message).toMatch(/^\.devcontainer\/devcontainer\.json asks for mount \/etc/);
    const reserved = await d.makeProject('m2', {
      [DC]: JSON.stringify({ mounts: [{ source: '/tmp', target: '/opt/aibox/packs/x', type: 'bind' }] }),
    });
    const b = await d.api('POST', '/v1/sandboxes', { path: reserved, name: 'm2' });
    expect(b.status).toBe(400);
    expect(b.body.error.code).toBe('DEVCONTAINER_INVALID');
    expect(d.runtime.containerOf('m1')).toBeUndefined();
    expect(d.runtime.containerOf('m2')).toBeUndefined();
    expect((await d.api('GET', '/v1/sandboxes')).body.sandboxes).toEqual([]);
  });

  it('leaves the file alone for a sandbox created with devcontainer: false, at every start', async () => {
    d = await startTestDaemon();
    const project = await d.makeProject('skip', {
      [DC]: JSON.stringify({ containerEnv: { A: '1' }, postStartCommand: 'echo s > s.txt' }),
    });
    const created = await d.api('POST', '/v1/sandboxes', {
      path: project,
      name: 'skip',
      devcontainer: false,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.devcontainer).toBeUndefined();
    await d.api('POST', '/v1/sandboxes/skip/stop');
    expect((await d.api('POST', '/v1/sandboxes/skip/start')).body.devcontainer).toBeUndefined();
    expect(d.runtime.containerOf('skip')?.spec.env.A).toBeUndefined();
    expect(existsSync(path.join(project, 's.txt'))).toBe(false);
  });
});
