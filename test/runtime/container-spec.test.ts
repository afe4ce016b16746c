import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { containerSpec, type SandboxSpec } from '../../src/runtime/container-spec.js';
import { isForbiddenPath } from '../../src/daemon/services/sandboxes.js';

const GOLDEN = fileURLToPath(new URL('./container-spec.golden.json', import.meta.url));
const AGENT_DIR_HOST = '/var/lib/aibox/agents/sbx_abc';

const base: SandboxSpec = {
  id: 'sbx_abc',
  name: 'demo',
  daemonId: 'd1',
  image: 'localhost/aibox-base:1',
  profile: {
    name: 'session',
    description: 'x',
    seccomp: 'seccomp/default.json',
    seccompPath: '/opt/profiles/seccomp/default.json',
    limits: { memoryMiB: 512, cpus: 1, pids: 512, processes: 100, openFiles: 1024, tmpfsMiB: 256 },
  },
  rootless: true,
  sandboxUid: 1001,
  workspace: '/run/aibox/mounts/d1/sbx_abc/workspace',
  home: '/var/lib/aibox/sandboxes/sbx_abc/home',
  seccompBpf: '/var/lib/aibox/sandboxes/sbx_abc/seccomp.bpf',
  readOnlyPaths: [{ source: '/run/aibox/mounts/d1/sbx_abc/extra/0', target: '.git/hooks', readOnly: true }],
  extraMounts: [{ source: '/run/aibox/mounts/d1/sbx_abc/extra/1', target: '/repo/.git', readOnly: false }],
  hostCaBundle: '/etc/ssl/certs/ca-certificates.crt',
  env: { A: 'b' },
  network: true,
};

describe('containerSpec', () => {
  // The whole create body, reviewed as a file: any change to what a sandbox may do shows up in its diff.
  it('is exactly the golden create body (test/runtime/container-spec.golden.json)', async () => {
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as unknown;
    expect(JSON.parse(JSON.stringify(containerSpec(base, AGENT_DIR_HOST)))).toEqual(golden);
  });

  it('starts the agent as the container root with only the caps to drop to the sandbox user and signal it', () => {
    const spec = containerSpec(base, AGENT_DIR_HOST);
    expect(spec.User).toBe('0:0');
    expect(spec.HostConfig!.CapDrop).toEqual(['ALL']);
    expect(spec.HostConfig!.CapAdd).toEqual(['CAP_SETGID', 'CAP_SETUID', 'CAP_KILL']);
    expect(spec.HostConfig!.SecurityOpt).toContain('no-new-privileges');
    expect(spec.HostConfig!.Binds).toContain(`${AGENT_DIR_HOST}:/run/aibox-agent:rw,nosuid,nodev`);
  });

  it('makes every bind nosuid and nodev', () => {
    for (const b of containerSpec(base, AGENT_DIR_HOST).HostConfig!.Binds!)
      expect(b).toMatch(/:(ro|rw),nosuid,nodev$/);
  });

  it('binds only paths the daemon made: never a path inside the workspace resolved by the engine', () => {
    const binds = containerSpec(base, AGENT_DIR_HOST).HostConfig!.Binds!;
    expect(binds.some((b) => b.startsWith(`${base.workspace}/`))).toBe(false);
  });

  it('gives rootful sandboxes cgroup limits and no user namespace mode', () => {
    const hc = containerSpec({ ...base, rootless: false, network: false }, AGENT_DIR_HOST).HostConfig!;
    expect(hc.UsernsMode).toBeUndefined();
    expect(hc.NetworkMode).toBe('none');
    expect(hc.Memory).toBe(512 * 1024 * 1024);
    expect(hc.PidsLimit).toBe(512);
  });

  it('refuses uid 0 (or no integer) for the command user', () => {
    expect(() => containerSpec({ ...base, sandboxUid: 0 }, AGENT_DIR_HOST)).toThrow(/uid 0/);
    expect(() => containerSpec({ ...base, sandboxUid: -1 }, AGENT_DIR_HOST)).toThrow(/uid -1/);
    expect(() => containerSpec({ ...base, sandboxUid: 1.5 }, AGENT_DIR_HOST)).toThrow(/uid 1.5/);
  });
});

describe('forbidden host places (checked on the real path of the opened folder)', () => {
  it.each([
    ['/', true],
    ['/etc', true],
    ['/etc/ssh', true],
    ['/usr/local/src', true],
    ['/root/.ssh/keys', true],
    ['/var/lib/x', true],
    ['/etcetera', false],
    ['/home/alice/project', false],
    ['/tmp/p', false],
    ['/root/project', false],
  ])('%s → %s', (p, forbidden) => {
    expect(isForbiddenPath(p)).toBe(forbidden);
  });

  it('adds the daemon state directory with prefix semantics', () => {
    expect(isForbiddenPath('/srv/aibox-state/sandboxes', ['/srv/aibox-state'])).toBe(true);
    expect(isForbiddenPath('/srv/aibox-statex', ['/srv/aibox-state'])).toBe(false);
  });
});
