/**
 * Sandbox state follows the container, and a restarted daemon sweeps only what is its own. Real aiboxd, real gVisor.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { daemonIdFor } from '../../src/runtime/labels.js';
import { descendantsOf } from '../../src/runtime/limits.js';

const run = requireHost(sandboxHostSupport(), 'lifecycle integration');
const MOUNTS = '/run/aibox/mounts';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function squidsOf(sandboxId: string): Promise<string[]> {
  const r = await execa('pgrep', ['-af', 'squid'], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes(sandboxId));
}

async function mountedUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

describe.runIf(run)('sandbox lifecycle follows the container', () => {
  let daemon: TestDaemon;
  let project: string;

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'lifecycle' });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('lifecycle');
  });

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('reports an OOM-killed sandbox as failed (reason OOM), releases its layers and answers exec with 409', async () => {
    const created = await daemon.api<{ id: string; state: string }>('POST', '/v1/sandboxes', {
      path: project,
      name: 'hog',
      profile: 'session',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    // Every layer is up before: Squid runs for it, the workspace is mounted, its memory cgroup exists.
    expect((await squidsOf(id)).length).toBeGreaterThan(0);
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(id)).toBe(true);
    expect(existsSync(`/sys/fs/cgroup/memory/aibox/${id}`)).toBe(true);
    // Every host process of the sandbox (gVisor's sentry, its address-space stubs) is inside its memory cgroup,
    // including those forked while the limits were being applied: one outside would charge nobody for its memory.
    for (let i = 0; i < 3; i++) await daemon.exec('hog', ['true']);
    const podman = new Docker({ socketPath: path.join(daemon.stateDir, 'podman/podman.sock') });
    const containerId = (await daemon.api<{ containerId: string }>('GET', '/v1/sandboxes/hog')).body
      .containerId;
    const rootPid = (await podman.getContainer(containerId).inspect()).State.Pid;
    const outside: string[] = [];
    for (const pid of await descendantsOf(rootPid)) {
      const cgroups = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => undefined);
      if (cgroups !== undefined && !cgroups.includes(`:memory:/aibox/${id}`)) outside.push(`${pid}`);
    }
    expect(outside, 'sandbox processes outside its memory cgroup').toEqual([]);

    // A process that allocates past the limit is killed alone; the sandbox stays up.
    const alone = await daemon.exec('hog', [
      'python3',
      '-c',
      'a=[]\nwhile True:\n    a.append(bytearray(32<<20))\n    a[-1][::4096]=bytes(8192)',
    ]);
    expect(alone.exitCode).not.toBe(0);
    expect((await daemon.exec('hog', ['echo', 'survived'])).stdout).toBe('survived\n');

    // The session profile allows 512 MiB. A plain allocation loop only costs the allocating process (gVisor's
    // address-space stub is what the host OOM killer takes); filling the sandbox's tmpfs first puts the memory in
    // gVisor's own kernel, which the OOM killer then takes: the whole sandbox dies.
    const hog = [
      'dd if=/dev/zero of=/tmp/fill bs=1M count=250 2>/dev/null',
      'dd if=/dev/zero of=/dev/shm/fill bs=1M count=62 2>/dev/null',
      'python3 -c "a=[]\nwhile True:\n    a.append(bytearray(32<<20))\n    a[-1][::4096]=bytes(8192)"',
    ].join('; ');
    await daemon.api('POST', '/v1/sandboxes/hog/exec', { cmd: ['sh', '-c', hog] }).catch(() => undefined);

    const report = await waitFor('the sandbox to be reported failed', async () => {
      const r = await daemon.api<{ state: string; reason?: string }>('GET', '/v1/sandboxes/hog');
      return r.body.state === 'failed' ? r.body : undefined;
    });
    expect(report.reason).toMatch(/^OOM/);

    await waitFor('its layers to be released', async () =>
      (await squidsOf(id)).length === 0 ? true : undefined,
    );
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(id)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory/aibox/${id}`)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/pids/aibox/${id}`)).toBe(false);

    const exec = await daemon.api<{ error: { code: string; message: string; hint: string } }>(
      'POST',
      '/v1/sandboxes/hog/exec',
      { cmd: ['true'] },
    );
    expect(exec.status).toBe(409);
    expect(exec.body.error.code).toBe('SANDBOX_NOT_RUNNING');
    expect(exec.body.error.message).toMatch(/OOM/);
    expect(exec.body.error.hint.length).toBeGreaterThan(10);

    // And it starts again.
    const again = await daemon.api<{ state: string }>('POST', '/v1/sandboxes/hog/start');
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.state).toBe('running');
    expect((await daemon.exec('hog', ['echo', 'back'])).stdout).toBe('back\n');
    expect((await daemon.api('DELETE', '/v1/sandboxes/hog')).status).toBe(200);
  });

  it('marks a sandbox whose container was killed from the host as failed with its exit code', async () => {
    const created = await daemon.api<{ id: string; containerId: string }>('POST', '/v1/sandboxes', {
      path: project,
      name: 'killed',
      profile: 'session',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const podman = new Docker({ socketPath: path.join(daemon.stateDir, 'podman/podman.sock') });
    await podman.getContainer(created.body.containerId).kill({ signal: 'SIGKILL' });
    const report = await waitFor('the killed sandbox to be reported', async () => {
      const r = await daemon.api<{ state: string; reason?: string }>('GET', '/v1/sandboxes/killed');
      return r.body.state !== 'running' && r.body.reason ? r.body : undefined;
    });
    expect(report.state).toBe('failed');
    expect(report.reason).toMatch(/exited with code \d+/);
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(created.body.id)).toBe(false);
    expect((await daemon.api('DELETE', '/v1/sandboxes/killed')).status).toBe(200);
  });

  it('leaves nothing behind when a layer fails half-way through its start', async () => {
    const broken = await startTestDaemon({
      name: 'lifecycle-broken',
      config: { egress: { squid: '/nonexistent/squid' } },
    });
    try {
      const r = await broken.api<{ error: { code: string } }>('POST', '/v1/sandboxes', {
        path: project,
        name: 'broken',
        profile: 'session',
      });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.body.error.code).toMatch(/^EGRESS_|SANDBOX_LAYER_FAILED/);
      const list = await broken.api<{ sandboxes: unknown[] }>('GET', '/v1/sandboxes');
      expect(list.body.sandboxes).toEqual([]);
      const egressDir = path.join(broken.stateDir, 'egress');
      const left = existsSync(egressDir)
        ? (await readdir(egressDir)).filter((e) => e.startsWith('sbx_'))
        : [];
      expect(left).toEqual([]);
      expect(await mountedUnder(path.join(MOUNTS, daemonIdFor(broken.stateDir)))).toEqual([]);
      expect(
        existsSync(path.join(broken.stateDir, 'sandboxes'))
          ? await readdir(path.join(broken.stateDir, 'sandboxes'))
          : [],
      ).toEqual([]);
    } finally {
      await broken.stop();
    }
  });

  it('sweeps at restart only the mounts under its own daemon id', async () => {
    const own = path.join(MOUNTS, daemonIdFor(daemon.stateDir), 'sbx_orphan0000', 'workspace');
    const foreign = path.join(MOUNTS, 'feedfacecafe', 'sbx_foreign000', 'workspace');
    // The layout before daemon ids: a mount another daemon is making right now.
    const legacy = path.join(MOUNTS, 'sbx_legacy0000', 'workspace');
    const source = await mkdtemp(path.join(tmpdir(), 'aibox-sweep-'));
    try {
      for (const target of [own, foreign, legacy]) {
        await mkdir(target, { recursive: true });
        await execa('mount', ['--bind', source, target]);
      }
      await daemon.crash();
      await daemon.restart();
      expect(await mountedUnder(own)).toEqual([]);
      expect(existsSync(path.dirname(own))).toBe(false);
      expect(await mountedUnder(foreign)).toEqual([foreign]);
      expect(await mountedUnder(legacy)).toEqual([legacy]);
    } finally {
      for (const target of [own, foreign, legacy]) {
        await execa('umount', [target], { reject: false });
        await rmdir(target).catch(() => undefined);
        await rmdir(path.dirname(target)).catch(() => undefined);
      }
      await rmdir(path.dirname(path.dirname(foreign))).catch(() => undefined);
      await rm(source, { recursive: true, force: true });
    }
  });
});
