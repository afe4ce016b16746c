/**
 * Companion services that die while their agent's sandbox runs, in real gVisor sandboxes. The service's process is
 * killed through its companion's exec agent (the runtime's channel; the agent's sandbox cannot reach it): with
 * `restart: on-failure` (the default, Redis here) the daemon notices, `aibox status` shows it restarting then
 * running with one restart and exit code 137, and redis-cli works again; with `restart: no` (PostgreSQL) it is
 * `failed` and status says so. A service killed while the daemon is down is found not listening at re-adoption and
 * restarted. `aibox rm` leaves no container or process. What the check costs while idle is bench/companions.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tmpdir } from 'node:os';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentChannel } from '../../src/runtime/agent-channel.js';
import { daemonIdFor } from '../../src/runtime/labels.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'companions-restart');

const SERVICES = `services:
  - name: cache
    pack: redis
    port: 6379
  - name: db
    pack: postgresql
    port: 5432
    data: { sizeMiB: 128 }
    restart: no
`;

interface ServiceView {
  service: string;
  state: string;
  restarts: number;
  lastExitCode?: number;
  reason?: string;
}

describe.skipIf(!run)(
  'companion services that die are noticed, restarted per policy, and shown in status',
  () => {
    let daemon: TestDaemon;
    let podman: Docker;
    let repo: string;
    let project: string;
    let containersBefore: string[];
    /** service name → companion id (its agent socket folder and container label). */
    const ids: Record<string, string> = {};
    const companionContainers: string[] = [];

    const containers = async () =>
      (
        await podman.listContainers({
          all: true,
          filters: { label: [`io.aibox.daemon=${daemonIdFor(daemon.stateDir)}`] },
        })
      )
        .map((c) => c.Id)
        .sort();

    const services = async (): Promise<Record<string, ServiceView>> => {
      const r = await daemon.api<{ services?: ServiceView[] }>('GET', '/v1/sandboxes/box');
      return Object.fromEntries((r.body.services ?? []).map((s) => [s.service, s]));
    };

    /** The companion's processes through its exec agent (a second connection replaces the daemon's for a moment). */
    const withAgent = async <T>(service: string, fn: (ch: AgentChannel) => Promise<T>): Promise<T> => {
      const ch = await AgentChannel.connect(
        path.join(daemon.stateDir, 'agents', ids[service]!, 'agent.sock'),
        5_000,
      );
      try {
        return await fn(ch);
      } finally {
        ch.close();
      }
    };

    /** Sends SIGKILL to the service's process whose command line starts with `prefix`; its pid. */
    const kill = (service: string, prefix: string) =>
      withAgent(service, async (ch) => {
        const p = (await ch.processes()).find((x) => x.cmd.startsWith(prefix));
        expect(p, `no ${prefix} process in ${service}`).toBeDefined();
        await ch.kill(p!.pid, 'KILL');
        return p!.pid;
      });

    /** Polls the sandbox view until `until` holds; every state the service went through on the way. */
    const watch = async (service: string, until: (s: ServiceView) => boolean, timeoutMs = 60_000) => {
      const seen: string[] = [];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = (await services())[service];
        if (s && seen.at(-1) !== s.state) seen.push(s.state);
        if (s && until(s)) return { s, seen };
        if (Date.now() > deadline)
          throw new Error(`${service} never got there: ${JSON.stringify(s)} (seen ${seen.join(' → ')})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    beforeAll(async () => {
      repo = await mkdtemp(path.join(tmpdir(), 'aibox-companions-restart-policy-'));
      await mkdir(path.join(repo, 'org'));
      await writeFile(
        path.join(repo, 'org/packs.rego'),
        'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["postgresql", "redis"]\n',
      );
      await writeFile(
        path.join(repo, 'org/mounts.rego'),
        'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
      );
      daemon = await startTestDaemon({ name: 'companions-restart', config: { policy: { repo } } });
      podman = new Docker({ socketPath: path.join(daemon.stateDir, 'podman/podman.sock') });
      const built = await daemon.cli(['setup', '--json']);
      expect(built.exitCode, built.stderr).toBe(0);
      for (const pack of ['postgresql', 'redis']) {
        const b = await daemon.cli(['pack', 'build', pack, '--json']);
        expect(b.exitCode, b.stderr + b.stdout).toBe(0);
      }
      containersBefore = await containers();
      project = await makeProject('companions-restart');
      await mkdir(path.join(project, 'aibox'));
      await writeFile(path.join(project, 'aibox/services.yaml'), SERVICES);
      await execa('chown', ['-R', 'aibox:aibox', project]);
      const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', {
        path: project,
        name: 'box',
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const state = JSON.parse(
        await readFile(path.join(daemon.stateDir, 'companions', created.body.id, 'state.json'), 'utf8'),
      ) as { companions: { id: string; service: string; containerId: string }[] };
      for (const c of state.companions) {
        ids[c.service] = c.id;
        companionContainers.push(c.containerId);
      }
      const redis = await daemon.cli(['install', 'redis', '--sandbox', 'box', '--json']);
      expect(redis.exitCode, redis.stderr + redis.stdout).toBe(0);
    }, 900_000);

    afterAll(async () => {
      await daemon?.stop();
      if (project) await rm(project, { recursive: true, force: true });
      if (repo) await rm(repo, { recursive: true, force: true });
    });

    it('shows each service running with no restarts, in the API view and aibox status', async () => {
      expect(await services()).toEqual({
        cache: { service: 'cache', pack: 'redis', port: 6379, state: 'running', restarts: 0 },
        db: { service: 'db', pack: 'postgresql', port: 5432, state: 'running', restarts: 0 },
      });
      const status = await daemon.cli(['status', 'box']);
      expect(status.stdout).toContain('service cache: running (restarts 0)');
      expect(status.stdout).toContain('service db: running (restarts 0)');
    }, 60_000);

    it('restarts a killed on-failure service: restarting, then running with one restart; redis-cli works again', async () => {
      const t0 = Date.now();
      const killed = await kill('cache', 'redis-server');
      const { s, seen } = await watch('cache', (x) => x.state === 'running' && x.restarts === 1);
      console.log(`redis killed → running again in ${Date.now() - t0} ms (${seen.join(' → ')})`);
      expect(seen).toContain('restarting');
      expect(s).toMatchObject({ state: 'running', restarts: 1, lastExitCode: 137 });
      const ping = await daemon.exec('box', ['redis-cli', '-h', 'cache', '-p', '6379', 'ping']);
      expect(ping.stdout.trim(), ping.stderr).toBe('PONG');
      // One server again, a new process; the old one is gone.
      const servers = await withAgent('cache', async (ch) =>
        (await ch.processes()).filter((p) => p.cmd.startsWith('redis-server')),
      );
      expect(servers).toHaveLength(1);
      expect(servers[0]!.pid).not.toBe(killed);
      const status = await daemon.cli(['status', 'box']);
      expect(status.stdout).toContain('service cache: running (restarts 1, last exit 137)');
      const audit = await daemon.api('GET', '/v1/audit?kind=companion&limit=20');
      expect(JSON.stringify(audit.body)).toMatch(/"event":"exited".*"event":"restarted"/);
    }, 120_000);

    it('leaves a killed restart: no service failed, and status says so; the sandbox keeps running', async () => {
      await kill('db', 'postgres -D');
      const { s } = await watch('db', (x) => x.state === 'failed');
      expect(s).toMatchObject({
        state: 'failed',
        restarts: 0,
        lastExitCode: 137,
        reason: 'its command exited with code 137 (restart: no)',
      });
      // Never restarted: no postmaster comes back.
      await new Promise((r) => setTimeout(r, 5_000));
      expect((await services()).db).toMatchObject({ state: 'failed', restarts: 0 });
      const postmasters = await withAgent('db', async (ch) =>
        (await ch.processes()).filter((p) => p.cmd.startsWith('postgres -D')),
      );
      expect(postmasters).toEqual([]);
      const status = await daemon.cli(['status', 'box']);
      expect(status.stdout).toContain(
        'service db: failed (restarts 0, last exit 137) — its command exited with code 137 (restart: no)',
      );
      expect((await daemon.api<{ state: string }>('GET', '/v1/sandboxes/box')).body.state).toBe('running');
      expect(await daemon.log()).toContain('companion service failed');
    }, 120_000);

    it('after a daemon restart, probes each service: one killed while the daemon was down is restarted', async () => {
      await daemon.crash();
      await kill('cache', 'redis-server');
      await daemon.restart();
      expect((await daemon.api<{ state: string }>('GET', '/v1/sandboxes/box')).body.state).toBe('running');
      const { s } = await watch('cache', (x) => x.state === 'running' && x.restarts === 2);
      expect(s.lastExitCode).toBe(137);
      const ping = await daemon.exec('box', ['redis-cli', '-h', 'cache', '-p', '6379', 'ping']);
      expect(ping.stdout.trim(), ping.stderr).toBe('PONG');
      // The failed one stays failed (its record says so): not restarted by the restart of the daemon.
      expect((await services()).db).toMatchObject({ state: 'failed', restarts: 0, lastExitCode: 137 });
    }, 180_000);

    it('leaves no container or process of a companion after aibox rm', async () => {
      const removed = await daemon.cli(['rm', 'box']);
      expect(removed.exitCode, removed.stderr).toBe(0);
      expect(await containers()).toEqual(containersBefore);
      const ps = (await execa('ps', ['-eo', 'args', '--no-headers'])).stdout;
      for (const c of companionContainers) expect(ps).not.toContain(c);
      for (const id of Object.values(ids)) expect(ps).not.toContain(id);
    }, 120_000);
  },
);
