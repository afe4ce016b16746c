/**
 * Sandboxes without a host folder and the warm pool, on a real aiboxd with real gVisor sandboxes: the pool fills,
 * a claim is fast and gets a fully enforced sandbox (egress ruleset in its namespace, an org policy change reaches
 * it), the pool refills, the workspace is a size-capped tmpfs that leaves nothing behind, a restarted daemon adopts
 * its pool, max age recycles, and a pool configured away is removed.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startOrigin, type Origin } from '../egress/support/servers.js';
import { nftTableName } from '../../src/egress/index.js';
import { daemonIdFor } from '../../src/runtime/labels.js';

const run = requireHost(sandboxHostSupport(), 'warm-pool');

interface Pools {
  pools: { profile: string; size: number; ready: number; starting: number }[];
}
interface Report {
  id: string;
  name: string;
  path: string;
  state: string;
  containerId: string;
  warm: boolean;
}
interface Listed {
  sandboxes: { id: string; name: string }[];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function mountsUnder(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

describe.runIf(run)('sandboxes without a host folder, and the warm pool', () => {
  let daemon: TestDaemon;
  let origin: Origin;
  let repo: string;
  let mountsRoot: string;
  const POOL = 2;

  const orgEgress = (domains: string[]) =>
    [
      'package aibox.org.egress',
      '',
      'import rego.v1',
      '',
      `allow_domains := {${domains.map((d) => JSON.stringify(d)).join(', ')}}`,
      '',
      `allow_ports := {${origin.port}}`,
      '',
    ].join('\n');

  const daemonConfig = (pool: Record<string, unknown>) => ({
    policy: { repo, debounceMs: 20 },
    egress: {
      dns: { hosts: { 'allowed.test': '127.0.0.1', 'other.test': '127.0.0.1' } },
      hostAccess: [{ address: '127.0.0.1', port: origin.port }],
    },
    pool: { workspaceMiB: 32, ...pool },
  });

  /** Restarts the daemon (a crash, then a start) with a new pool section. */
  const restartWith = async (pool: Record<string, unknown>) => {
    await daemon.crash();
    await writeFile(
      path.join(daemon.dir, 'aiboxd.yaml'),
      stringify({ ...daemonConfig(pool), sshGateway: { port: 0 } }),
    );
    await daemon.restart();
  };

  const pool = async () => (await daemon.api<Pools>('GET', '/v1/pool')).body.pools[0]!;
  const readyPool = (n = POOL) =>
    waitFor(`${n} pooled sandboxes`, async () => ((await pool()).ready >= n ? true : undefined));
  const names = async () =>
    new Set((await daemon.api<Listed>('GET', '/v1/sandboxes')).body.sandboxes.map((s) => s.name));

  /** The sandbox's egress table, read inside its network namespace. */
  const egressTable = async (report: Report) => {
    const podman = new Docker({ socketPath: path.join(daemon.stateDir, 'podman/podman.sock') });
    const pid = (await podman.getContainer(report.containerId).inspect()).State.Pid;
    const r = await execa(
      'nsenter',
      ['-t', String(pid), '-n', 'nft', '-j', 'list', 'table', 'inet', nftTableName(report.id)],
      {
        reject: false,
      },
    );
    return r.exitCode === 0 ? r.stdout : '';
  };

  const curl = (name: string, host: string) =>
    daemon.exec(name, ['curl', '-sS', '-i', '--max-time', '5', `http://${host}:${origin.port}/`]);

  beforeAll(async () => {
    origin = await startOrigin('loopback', '127.0.0.1');
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-warm-pool-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['allowed.test', 'other.test']));
    daemon = await startTestDaemon({
      name: 'warm-pool',
      config: daemonConfig({ profiles: { session: { size: POOL, maxAgeSeconds: 3600 } } }),
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    // The runtime.mountsDir of config/aiboxd.yaml (test daemons keep it), under this daemon's id.
    mountsRoot = path.join('/run/aibox/mounts', daemonIdFor(daemon.stateDir));
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    await origin?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('fills the pool with fully enforced sandboxes that no one owns yet', async () => {
    // The pool starts only once the base image exists: its first attempts may have failed before setup.
    await readyPool();
    const listed = (await daemon.api<Listed>('GET', '/v1/sandboxes')).body.sandboxes;
    expect(listed.filter((s) => s.name.startsWith('session-')).length).toBe(POOL);
    for (const s of listed) {
      const report = (await daemon.api<Report>('GET', `/v1/sandboxes/${s.name}`)).body;
      expect(report.state).toBe('running');
      expect(report.path).toBe('');
      const table = await egressTable(report);
      expect(table, `egress table of pooled ${s.name}`).toContain('"policy": "drop"');
    }
  }, 300_000);

  it('hands out a pooled sandbox on a workspace-less create, fast, enforced, with a private writable workspace', async () => {
    await readyPool();
    const before = await names();
    const began = performance.now();
    const claimed = await daemon.api<Report>('POST', '/v1/sandboxes', {});
    const claimMs = performance.now() - began;
    expect(claimed.status, JSON.stringify(claimed.body)).toBe(201);
    expect(claimed.body.warm).toBe(true);
    expect(before.has(claimed.body.name)).toBe(true);
    const first = await daemon.exec(claimed.body.name, [
      'sh',
      '-c',
      'id -u && stat -c %u:%a /workspace && touch /workspace/x && ls /workspace',
    ]);
    const toFirstExec = performance.now() - began;
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toBe('1001\n1001:755\nx\n');
    // A claim changes hands, nothing is started: well under a cold start (~1 s here, several under load).
    expect(claimMs).toBeLessThan(500);
    console.log(`claim ${claimMs.toFixed(1)} ms, claim -> first exec ${toFirstExec.toFixed(1)} ms`);
    expect(await egressTable(claimed.body)).toContain('"policy": "drop"');
    await daemon.api('DELETE', `/v1/sandboxes/${claimed.body.name}`);
  }, 300_000);

  it('refills after a claim, and a claimed sandbox leaves no mount, workspace or record behind', async () => {
    await readyPool();
    const mountsBefore = (await mountsUnder(mountsRoot)).length;
    const claimed = (await daemon.api<Report>('POST', '/v1/sandboxes', {})).body;
    expect(claimed.warm).toBe(true);
    const own = path.join(mountsRoot, claimed.id);
    expect(await mountsUnder(path.join(own, 'workspace'))).toEqual([path.join(own, 'workspace')]);
    // The workspace is capped: 32 MiB in this daemon's config.
    const fill = await daemon.exec(claimed.name, [
      'sh',
      '-c',
      'head -c 40M /dev/zero > /workspace/big; echo rc=$?',
    ]);
    expect(fill.stdout + fill.stderr).toMatch(/No space left|rc=1/);
    const rm = await daemon.api('DELETE', `/v1/sandboxes/${claimed.name}`);
    expect(rm.status).toBeLessThan(300);
    expect(await mountsUnder(own)).toEqual([]);
    expect(existsSync(own)).toBe(false);
    expect(existsSync(path.join(daemon.stateDir, 'sandboxes', claimed.id))).toBe(false);
    // Refilled to size: the same number of mounts as before the claim (one pooled sandbox replaced another).
    await readyPool();
    await waitFor('the refill to settle', async () => ((await pool()).starting === 0 ? true : undefined));
    expect((await mountsUnder(mountsRoot)).length).toBe(mountsBefore);
  }, 300_000);

  it('starts cold when the pool is empty or a name is asked for, with the same workspace', async () => {
    const named = await daemon.api<Report>('POST', '/v1/sandboxes', { name: 'named-session' });
    expect(named.status, JSON.stringify(named.body)).toBe(201);
    expect(named.body.warm).toBe(false);
    const r = await daemon.exec('named-session', [
      'sh',
      '-c',
      'stat -c %u /workspace && ls -A /workspace | wc -l',
    ]);
    expect(r.stdout).toBe('1001\n0\n');
    await daemon.api('DELETE', '/v1/sandboxes/named-session');
    expect(existsSync(path.join(mountsRoot, named.body.id))).toBe(false);
  }, 300_000);

  it('applies an org policy change to pooled sandboxes like to running ones', async () => {
    await readyPool();
    const pooled = [...(await names())].filter((n) => n.startsWith('session-'));
    expect(pooled.length).toBe(POOL);
    const target = pooled[0]!;
    const reach = async (host: string, want: boolean) =>
      waitFor(
        `${host} ${want ? 'reachable' : 'refused'} from ${target}`,
        async () => {
          const r = await curl(target, host);
          return r.stdout.includes('origin loopback') === want ? r : undefined;
        },
        20_000,
      );
    await reach('other.test', true);
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['allowed.test']));
    await reach('other.test', false);
    await reach('allowed.test', true);
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['allowed.test', 'other.test']));
    await reach('other.test', true);
  }, 300_000);

  it('adopts its pool after a daemon restart', async () => {
    await readyPool();
    const before = [...(await names())].filter((n) => n.startsWith('session-')).sort();
    await restartWith({ profiles: { session: { size: POOL, maxAgeSeconds: 3600 } } });
    await readyPool();
    const after = [...(await names())].filter((n) => n.startsWith('session-')).sort();
    expect(after).toEqual(before);
    const claimed = await daemon.api<Report>('POST', '/v1/sandboxes', {});
    expect(claimed.body.warm).toBe(true);
    expect(before).toContain(claimed.body.name);
    expect((await daemon.exec(claimed.body.name, ['true'])).exitCode).toBe(0);
    await daemon.api('DELETE', `/v1/sandboxes/${claimed.body.name}`);
  }, 300_000);

  it('recycles pooled sandboxes past their max age', async () => {
    await readyPool();
    const old = [...(await names())].filter((n) => n.startsWith('session-'));
    await restartWith({ profiles: { session: { size: 1, maxAgeSeconds: 4 } } });
    // Older than 4 s already, or one too many: all of them go, and the pool keeps replacing its sandbox.
    const first = await waitFor('a fresh pooled sandbox', async () => {
      const now = [...(await names())].filter((n) => n.startsWith('session-'));
      return now.length === 1 && !old.includes(now[0]!) ? now[0] : undefined;
    });
    await waitFor('the pooled sandbox to be recycled', async () => {
      const now = [...(await names())].filter((n) => n.startsWith('session-'));
      return now.length === 1 && now[0] !== first ? true : undefined;
    });
    for (const name of [...old, first]) expect((await names()).has(name)).toBe(false);
  }, 300_000);

  it('removes a pool configured away, leaving no mount behind', async () => {
    await restartWith({ profiles: {} });
    await waitFor('the pool to be removed', async () =>
      [...(await names())].some((n) => n.startsWith('session-')) ? undefined : true,
    );
    expect(await mountsUnder(mountsRoot)).toEqual([]);
  }, 300_000);
});
