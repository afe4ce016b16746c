import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshClientKit, type SshTarget } from '../support/ssh-client.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

/**
 * SSH through the real composition root: commands go through the sandbox service's exec path (the FakeRuntime
 * records them), and every command is asked of policy's exec door.
 */
describe('SSH commands through the daemon', () => {
  let d: TestDaemon;
  let kit: SshClientKit;
  let target: SshTarget;

  beforeAll(async () => {
    d = await startTestDaemon();
    const open = await d.makeProject('sshbox', { 'README.md': 'over ssh\n' });
    expect((await d.api('POST', '/v1/sandboxes', { path: open, name: 'sshbox' })).status).toBe(201);
    // SSH runs a command as sshd does (`bash -c '<command>'`): denying bash refuses every SSH command.
    const strict = await d.makeProject('strict', {
      'README.md': 'over ssh\n',
      'aibox/policy.yaml': 'commands:\n  deny:\n    - bash\n',
    });
    expect((await d.api('POST', '/v1/sandboxes', { path: strict, name: 'strict' })).status).toBe(201);
    kit = await SshClientKit.create();
    expect((await d.api('POST', '/v1/ssh-keys', { publicKey: await kit.publicKey() })).status).toBe(201);
    const gw = await d.api<SshTarget & { enabled: boolean }>('GET', '/v1/ssh/gateway');
    expect(gw.body.enabled).toBe(true);
    target = gw.body;
  });
  afterAll(async () => {
    await d?.close();
    if (kit) await rm(kit.dir, { recursive: true, force: true });
  });

  it('runs a command through the sandbox service, in the workspace', async () => {
    const r = await kit.ssh(target, 'sshbox', ['ls']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('README.md');
    expect(d.runtime.calls).toContainEqual(expect.stringMatching(/^exec sshbox \/bin\/bash -c ls$/));
  });

  it('refuses a command the policy denies, without running it', async () => {
    const before = d.runtime.calls.length;
    const r = await kit.ssh(target, 'strict', ['cat', 'README.md']);
    expect(r, JSON.stringify(r)).toMatchObject({ stderr: expect.stringContaining('refused by policy') });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).not.toContain('over ssh');
    expect(d.runtime.calls.slice(before).some((c) => c.includes('cat README.md'))).toBe(false);
  });
});
