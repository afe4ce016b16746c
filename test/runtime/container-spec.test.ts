import { describe, expect, it } from 'vitest';
import { containerSpec, type SandboxSpec } from '../../src/runtime/container-spec.js';
import { isForbiddenPath } from '../../src/daemon/services/sandboxes.js';

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
  it('is exactly this (golden)', () => {
    expect(containerSpec(base)).toEqual({
      name: 'aibox-sbx_abc',
      Image: 'localhost/aibox-base:1',
      Cmd: ['sleep', 'infinity'],
      User: '1001:1001',
      WorkingDir: '/workspace',
      Hostname: 'demo',
      Env: ['HOME=/home/agent', 'USER=agent', 'AIBOX_SANDBOX=demo', 'A=b'],
      Labels: {
        'io.aibox.managed': 'true',
        'io.aibox.daemon': 'd1',
        'io.aibox.sandbox.id': 'sbx_abc',
        'io.aibox.sandbox.name': 'demo',
        'io.aibox.sandbox.profile': 'session',
      },
      HostConfig: {
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges', 'seccomp=/opt/profiles/seccomp/default.json'],
        NetworkMode: 'slirp4netns:allow_host_loopback=true',
        UsernsMode: 'keep-id:uid=1001,gid=1001',
        Binds: [
          '/run/aibox/mounts/d1/sbx_abc/workspace:/workspace:rw,nosuid,nodev',
          '/run/aibox/mounts/d1/sbx_abc/extra/0:/workspace/.git/hooks:ro,nosuid,nodev',
          '/var/lib/aibox/sandboxes/sbx_abc/home:/home/agent:rw,nosuid,nodev',
          '/var/lib/aibox/sandboxes/sbx_abc/seccomp.bpf:/etc/aibox/seccomp.bpf:ro,nosuid,nodev',
          '/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro,nosuid,nodev',
          '/run/aibox/mounts/d1/sbx_abc/extra/1:/repo/.git:rw,nosuid,nodev',
        ],
        Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=256m,mode=1777' },
        Ulimits: [
          { Name: 'nofile', Soft: 1024, Hard: 1024 },
          { Name: 'nproc', Soft: 100, Hard: 100 },
        ],
      },
    });
  });

  it('makes every bind nosuid and nodev', () => {
    for (const b of containerSpec(base).HostConfig!.Binds!) expect(b).toMatch(/:(ro|rw),nosuid,nodev$/);
  });

  it('binds only paths the daemon made: never a path inside the workspace resolved by the engine', () => {
    const binds = containerSpec(base).HostConfig!.Binds!;
    expect(binds.some((b) => b.startsWith(`${base.workspace}/`))).toBe(false);
  });

  it('gives rootful sandboxes cgroup limits and no user namespace mode', () => {
    const hc = containerSpec({ ...base, rootless: false, network: false }).HostConfig!;
    expect(hc.UsernsMode).toBeUndefined();
    expect(hc.NetworkMode).toBe('none');
    expect(hc.Memory).toBe(512 * 1024 * 1024);
    expect(hc.PidsLimit).toBe(512);
  });

  it('refuses to run the agent as uid 0', () => {
    expect(() => containerSpec({ ...base, sandboxUid: 0 })).toThrow(/uid 0/);
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
