/**
 * Companion services end to end, in real gVisor sandboxes: a project's aibox/services.yaml declares a PostgreSQL
 * service; `aibox start` (POST /v1/sandboxes) brings it up in its own sandbox linked to the agent's by a private veth
 * pair. psql in the agent's sandbox reaches it by name; a second sandbox cannot reach it; the companion's namespace
 * has no way out; a service that does not start fails the agent's start naming it; a daemon killed with SIGKILL
 * and started again on the same state re-adopts the sandbox with its companions (same containers, data, isolation);
 * after `aibox rm` no container, veth, network namespace, process, mount or state of the companion is left; and a
 * companion removed while the daemon was down makes the restarted daemon stop its agent's sandbox (fail closed).
 */
import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonIdFor } from '../../src/runtime/labels.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'companions');

const SERVICES = `services:
  - name: db
    pack: postgresql
    port: 5432
    data: { sizeMiB: 128 }
  - name: cache
    pack: redis
    port: 6379
    limits: { memoryMiB: 256, cpus: 0.5, pids: 512 }
`;

/** The host's links of companion pairs (the agent's end is aibxcN, the companion's aibxpN until it moves). */
async function companionLinks(): Promise<string[]> {
  const r = await execa('ip', ['-o', 'link', 'show'], { reject: false });
  return r.stdout
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => /^aibx[cp]/.test(n));
}

/** Network namespaces on the host that a process still holds, by inode. */
async function netnsInodes(): Promise<Set<string>> {
  const r = await execa('lsns', ['-t', 'net', '-n', '-o', 'NS'], { reject: false });
  return new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
}

/** The network namespace inode of a container's first process. */
async function netnsOf(podman: Docker, containerId: string): Promise<string> {
  const pid = (await podman.getContainer(containerId).inspect()).State.Pid;
  return /\[(\d+)\]/.exec(await readlink(`/proc/${pid}/ns/net`))![1]!;
}

async function withServices(name: string, text: string): Promise<string> {
  const dir = await makeProject(name);
  await mkdir(path.join(dir, 'aibox'));
  await writeFile(path.join(dir, 'aibox/services.yaml'), text);
  await execa('chown', ['-R', 'aibox:aibox', dir]);
  return dir;
}

describe.skipIf(!run)('companion services of aibox/services.yaml', () => {
  let daemon: TestDaemon;
  let podman: Docker;
  let repo: string;
  const projects: string[] = [];
  let containersBefore: string[];
  /** The agent's and the companion's network namespaces while they run. */
  const namespaces: string[] = [];
  let companionId: string;
  let companionIds: string[];
  let companionAddress: string;
  /** The companions' container ids (full), as their processes name them. */
  const companionContainers: string[] = [];

  const containers = async () =>
    (
      await podman.listContainers({
        all: true,
        filters: { label: [`io.aibox.daemon=${daemonIdFor(daemon.stateDir)}`] },
      })
    ).map((c) => c.Id);

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-companions-policy-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(
      path.join(repo, 'org/packs.rego'),
      'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["postgresql", "redis"]\n',
    );
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    daemon = await startTestDaemon({ name: 'companions', config: { policy: { repo } } });
    podman = new Docker({ socketPath: path.join(daemon.stateDir, 'podman/podman.sock') });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    // The packs come from the host cache (built once if it lacks them): not part of any start's time.
    for (const pack of ['postgresql', 'redis']) {
      const b = await daemon.cli(['pack', 'build', pack, '--json']);
      expect(b.exitCode, b.stderr + b.stdout).toBe(0);
    }
    containersBefore = await containers();
    expect(await companionLinks()).toEqual([]);

    projects.push(await withServices('companions', SERVICES));
    const t0 = Date.now();
    const created = await daemon.api('POST', '/v1/sandboxes', { path: projects[0], name: 'box' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    console.log(`sandbox with a PostgreSQL companion started in ${Date.now() - t0} ms`);
    const id = (created.body as { id: string }).id;
    const state = JSON.parse(
      await readFile(path.join(daemon.stateDir, 'companions', id, 'state.json'), 'utf8'),
    ) as { companions: { id: string; service: string }[] };
    expect(state.companions.map((c) => c.service)).toEqual(['db', 'cache']);
    companionIds = state.companions.map((c) => c.id);
    companionId = companionIds[0]!;
    projects.push(await makeProject('companions-other'));
    const other = await daemon.api('POST', '/v1/sandboxes', { path: projects[1], name: 'other' });
    expect(other.status, JSON.stringify(other.body)).toBe(201);
    // psql for both agents (the service's own pack is mounted into the companion only).
    for (const sandbox of ['box', 'other']) {
      const i = await daemon.cli(['install', 'postgresql', '--sandbox', sandbox, '--json']);
      expect(i.exitCode, i.stderr + i.stdout).toBe(0);
    }
    const redis = await daemon.cli(['install', 'redis', '--sandbox', 'box', '--json']);
    expect(redis.exitCode, redis.stderr + redis.stdout).toBe(0);
  }, 900_000);

  afterAll(async () => {
    await daemon?.stop();
    for (const p of projects) await rm(p, { recursive: true, force: true });
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('lists the service in the sandbox report, and psql in the agent sandbox reaches it by name', async () => {
    const report = await daemon.api<{ endpoints: Record<string, string> }>('GET', '/v1/sandboxes/box');
    expect(report.body.endpoints['service db']).toBe('tcp://db:5432 (postgresql)');
    expect(report.body.endpoints['service cache']).toBe('tcp://cache:6379 (redis)');
    const status = await daemon.cli(['status', 'box']);
    expect(status.stdout).toContain('tcp://db:5432 (postgresql)');
    const hosts = await daemon.exec('box', ['getent', 'hosts', 'db']);
    expect(hosts.exitCode, hosts.stderr).toBe(0);
    companionAddress = hosts.stdout.trim().split(/\s+/)[0]!;
    expect(companionAddress).toMatch(/^10\.213\.\d+\.\d+$/);
    const r = await daemon.exec('box', [
      'psql',
      '-h',
      'db',
      '-p',
      '5432',
      '-U',
      'postgres',
      '-tAc',
      "create table t (v int); insert into t values (42); select v from t; select current_setting('data_directory')",
    ]);
    expect(r.stdout.trim().split('\n'), r.stderr).toEqual([
      'CREATE TABLE',
      'INSERT 0 1',
      '42',
      '/data/pgdata',
    ]);
  }, 120_000);

  it('links a second service beside the first: redis-cli reaches the Redis service by name', async () => {
    const r = await daemon.exec('box', ['redis-cli', '-h', 'cache', '-p', '6379', 'ping']);
    expect(r.stdout.trim(), r.stderr).toBe('PONG');
    const hosts = await daemon.exec('box', ['getent', 'hosts', 'cache']);
    expect(hosts.stdout.trim().split(/\s+/)[0]).not.toBe(companionAddress);
    // Each service on its own port only: the Redis companion's address does not answer PostgreSQL's port.
    const cross = await daemon.exec('box', [
      'sh',
      '-c',
      'PGCONNECT_TIMEOUT=5 psql -h cache -p 5432 -U postgres -tAc "select 1"; echo "exit=$?"',
    ]);
    expect(cross.stdout).toContain('exit=2');
  }, 60_000);

  it("holds each companion to its own limits in its cgroups, the profile's where the service sets none", async () => {
    const cgroup = (controller: string, id: string, file: string) =>
      readFile(path.join('/sys/fs/cgroup', controller, 'aibox', id, file), 'utf8').then((t) => t.trim());
    const [db, cache] = companionIds as [string, string];
    expect(await cgroup('memory', cache, 'memory.limit_in_bytes')).toBe(String(256 * 1024 * 1024));
    expect(await cgroup('cpu', cache, 'cpu.cfs_quota_us')).toBe('50000');
    expect(await cgroup('cpu', cache, 'cpu.cfs_period_us')).toBe('100000');
    expect(await cgroup('pids', cache, 'pids.max')).toBe('512');
    // The default profile's (4096 MiB, 2 CPUs, 4096 host threads) for the service without limits.
    expect(await cgroup('memory', db, 'memory.limit_in_bytes')).toBe(String(4096 * 1024 * 1024));
    expect(await cgroup('cpu', db, 'cpu.cfs_quota_us')).toBe('200000');
    expect(await cgroup('pids', db, 'pids.max')).toBe('4096');
    // In force: the companion's gVisor processes are in its cgroups.
    const [c] = await podman.listContainers({ filters: { label: [`io.aibox.sandbox.id=${cache}`] } });
    const pid = (await podman.getContainer(c!.Id).inspect()).State.Pid;
    for (const controller of ['memory', 'cpu', 'pids'])
      expect((await cgroup(controller, cache, 'cgroup.procs')).split('\n')).toContain(String(pid));
    const used = Number(await cgroup('pids', cache, 'pids.current'));
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(512);
  }, 30_000);

  it('refuses a service limit above the sandbox profile at start, naming file and line, before anything runs', async () => {
    const before = await containers();
    projects.push(
      await withServices(
        'companions-greedy',
        'services:\n  - name: cache\n    pack: redis\n    port: 6379\n    limits:\n      memoryMiB: 65536\n',
      ),
    );
    const r = await daemon.api<{ error: { code: string; message: string } }>('POST', '/v1/sandboxes', {
      path: projects[projects.length - 1],
      name: 'greedy',
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('COMPANION_SPEC_INVALID');
    expect(r.body.error.message).toBe(
      "aibox/services.yaml:6: services.0.limits.memoryMiB: 65536 is above the sandbox profile's 4096",
    );
    expect((await daemon.api('GET', '/v1/sandboxes/greedy')).status).toBe(404);
    expect((await containers()).sort()).toEqual(before.sort());
  }, 60_000);

  it('is not reachable from another sandbox, by name or by address', async () => {
    expect((await daemon.exec('other', ['getent', 'hosts', 'db'])).exitCode).not.toBe(0);
    const r = await daemon.exec('other', [
      'sh',
      '-c',
      `PGCONNECT_TIMEOUT=5 psql -h ${companionAddress} -p 5432 -U postgres -tAc 'select 1'; echo "exit=$?"`,
    ]);
    expect(r.stdout).toContain('exit=2');
    expect(r.stdout).not.toMatch(/^1$/m);
  }, 60_000);

  it('gives the companion no way out: only loopback and the link, no route, its ruleset drops new output', async () => {
    const [c] = await podman.listContainers({ filters: { label: [`io.aibox.sandbox.id=${companionId}`] } });
    expect(c).toBeDefined();
    const pid = (await podman.getContainer(c!.Id).inspect()).State.Pid;
    const agent = (await daemon.api<{ containerId: string }>('GET', '/v1/sandboxes/box')).body.containerId;
    namespaces.push(await netnsOf(podman, agent), await netnsOf(podman, c!.Id));
    // Two namespaces: the companion is not in its agent's.
    expect(new Set(namespaces).size).toBe(2);
    const inNs = (cmd: string[]) => execa('nsenter', ['-t', String(pid), '-n', ...cmd], { reject: false });
    const links = (await inNs(['ip', '-o', 'link', 'show'])).stdout;
    expect(links.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])).toEqual(['lo', 'aibox0']);
    const routes = (await inNs(['ip', 'route', 'show'])).stdout.trim();
    expect(routes).not.toContain('default');
    expect(routes.split('\n')).toHaveLength(1);
    // Its own namespace, not the agent's: the agent's address is on the other end of the link.
    const agentAddress = companionAddress.replace(/\d+$/, (n) => String(Number(n) - 1));
    expect(routes).toContain(companionAddress);
    // A new connection from the companion's namespace, even to its agent across the link, is dropped by its ruleset.
    const out = await inNs([
      'timeout',
      '5',
      'bash',
      '-c',
      `</dev/tcp/${agentAddress}/22 && echo connected || echo refused`,
    ]);
    expect(out.stdout).not.toContain('connected');
    expect(out.exitCode).toBe(124);
    const internet = await inNs(['timeout', '3', 'bash', '-c', '</dev/tcp/1.1.1.1/443 && echo connected']);
    expect(internet.stdout).not.toContain('connected');
    const nft = (await inNs(['nft', 'list', 'ruleset'])).stdout;
    expect(nft).toContain(`ip saddr ${agentAddress} ip daddr ${companionAddress} tcp dport 5432`);
  }, 60_000);

  it('refuses to start the agent sandbox when a service does not start, naming it, and leaves nothing', async () => {
    const before = await containers();
    projects.push(
      await withServices(
        'companions-broken',
        'services:\n  - name: cache\n    pack: redis\n    port: 6380\n    command: [/bin/false]\n',
      ),
    );
    const r = await daemon.api<{ error: { code: string; message: string } }>('POST', '/v1/sandboxes', {
      path: projects[projects.length - 1],
      name: 'broken',
    });
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('COMPANION_START_FAILED');
    expect(r.body.error.message).toContain('companion service cache (redis) did not start');
    // Its command exited: the start fails at once, not after the 60 s the service is given to listen.
    expect(r.body.error.message).toContain('(its command exited)');
    expect((await daemon.api('GET', '/v1/sandboxes/broken')).status).toBe(404);
    expect((await containers()).sort()).toEqual(before.sort());
  }, 180_000);

  it('after a daemon crash, re-adopts the agent sandbox with its companions: same containers, same data, same isolation', async () => {
    const running = async () =>
      Object.fromEntries(
        await Promise.all(
          companionIds.map(async (id) => {
            const [c] = await podman.listContainers({ filters: { label: [`io.aibox.sandbox.id=${id}`] } });
            return [id, c?.Id] as const;
          }),
        ),
      );
    const before = await running();
    companionContainers.push(...Object.values(before).filter((x): x is string => !!x));
    expect(companionContainers).toHaveLength(2);
    await daemon.crash();
    const t0 = Date.now();
    await daemon.restart();
    console.log(`daemon restarted with a sandbox and two companions to re-adopt in ${Date.now() - t0} ms`);
    const box = await daemon.api<{ state: string; reason?: string }>('GET', '/v1/sandboxes/box');
    expect(box.body.state, box.body.reason).toBe('running');
    expect(await daemon.log()).toContain('companion services re-adopted');
    // The very containers it had (not new ones), with the table written before the crash.
    expect(await running()).toEqual(before);
    const r = await daemon.exec('box', [
      'psql',
      '-h',
      'db',
      '-p',
      '5432',
      '-U',
      'postgres',
      '-tAc',
      'select v from t',
    ]);
    expect(r.stdout.trim(), r.stderr).toBe('42');
    const ping = await daemon.exec('box', ['redis-cli', '-h', 'cache', '-p', '6379', 'ping']);
    expect(ping.stdout.trim(), ping.stderr).toBe('PONG');
    const status = await daemon.cli(['status', 'box']);
    expect(status.stdout).toContain('tcp://db:5432 (postgresql)');
    expect(status.stdout).toContain('tcp://cache:6379 (redis)');
    // Still the agent's alone: the other (adopted) sandbox does not reach it.
    expect((await daemon.api<{ state: string }>('GET', '/v1/sandboxes/other')).body.state).toBe('running');
    const other = await daemon.exec('other', [
      'sh',
      '-c',
      `PGCONNECT_TIMEOUT=5 psql -h ${companionAddress} -p 5432 -U postgres -tAc 'select 1'; echo "exit=$?"`,
    ]);
    expect(other.stdout).toContain('exit=2');
    expect(other.stdout).not.toMatch(/^1$/m);
    // The companion's ruleset is in place (applied again at adoption).
    const pid = (await podman.getContainer(before[companionId]!).inspect()).State.Pid;
    const nft = await execa('nsenter', ['-t', String(pid), '-n', 'nft', 'list', 'ruleset']);
    const agentAddress = companionAddress.replace(/\d+$/, (n) => String(Number(n) - 1));
    expect(nft.stdout).toContain(`ip saddr ${agentAddress} ip daddr ${companionAddress} tcp dport 5432`);
  }, 180_000);

  it('leaves no container, veth, network namespace, process, mount or state after aibox rm of the adopted sandbox', async () => {
    const id = (await daemon.api<{ id: string }>('GET', '/v1/sandboxes/box')).body.id;
    const removed = await daemon.cli(['rm', 'box']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    for (const cid of companionIds)
      expect(
        await podman.listContainers({ all: true, filters: { label: [`io.aibox.sandbox.id=${cid}`] } }),
      ).toEqual([]);
    expect(await companionLinks()).toEqual([]);
    expect(namespaces).toHaveLength(2);
    const held = await netnsInodes();
    expect(held.size).toBeGreaterThan(0);
    expect(namespaces.filter((ns) => held.has(ns))).toEqual([]);
    // No runsc, gofer or conmon process names a companion's container any more.
    const ps = (await execa('ps', ['-eo', 'args', '--no-headers'])).stdout;
    for (const c of companionContainers) expect(ps).not.toContain(c);
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    for (const cid of companionIds) expect(mounts).not.toContain(cid);
    expect(existsSync(path.join(daemon.stateDir, 'companions', id))).toBe(false);
  }, 120_000);

  it('stops the agent sandbox and removes its companions when one was removed while the daemon was down', async () => {
    projects.push(
      await withServices('companions-lost', 'services:\n  - name: cache\n    pack: redis\n    port: 6379\n'),
    );
    const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', {
      path: projects[projects.length - 1],
      name: 'lost',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const state = JSON.parse(
      await readFile(path.join(daemon.stateDir, 'companions', created.body.id, 'state.json'), 'utf8'),
    ) as { companions: { id: string; containerId: string; linkIndex: number }[] };
    const [companion] = state.companions;
    await daemon.crash();
    await podman.getContainer(companion!.containerId).remove({ force: true });
    await daemon.restart();
    const lost = await daemon.api<{ state: string; reason?: string }>('GET', '/v1/sandboxes/lost');
    expect(lost.body.state).toBe('stopped');
    expect(lost.body.reason).toMatch(
      /^companion service cache \(redis\) of lost is gone after a daemon restart/,
    );
    expect(await daemon.log()).toContain('cannot re-adopt; stopping it (fail closed)');
    expect(
      await podman.listContainers({
        all: true,
        filters: { label: [`io.aibox.sandbox.id=${companion!.id}`] },
      }),
    ).toEqual([]);
    expect(await companionLinks()).toEqual([]);
    expect(existsSync(path.join(daemon.stateDir, 'companions', created.body.id))).toBe(false);
    // The sandbox without companions is adopted as usual.
    expect((await daemon.api<{ state: string }>('GET', '/v1/sandboxes/other')).body.state).toBe('running');
    for (const name of ['lost', 'other']) {
      const r = await daemon.cli(['rm', name]);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    expect((await containers()).sort()).toEqual([...containersBefore].sort());
  }, 300_000);
});
