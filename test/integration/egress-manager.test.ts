/**
 * The egress manager's own resources on the host, without any sandbox: proxy ports under concurrent starts (the
 * port is proven to be held by the sandbox's own Squid), a start whose port is taken, a start that fails (nothing
 * left behind), and the sweep of leftovers (only this daemon's, never a live sandbox's). Real Squid on loopback.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortReservations } from '../../src/egress/index.js';
import {
  EgressConfig,
  EgressManager,
  buildEgressPolicy,
  listenerHeldBy,
  withChildren,
} from '../../src/egress/index.js';
import { silent, TakenFirst } from '../egress/support/manager.js';
import { requireHost } from '../support/host.js';

const support =
  process.getuid?.() !== 0
    ? { ok: false, reason: 'needs root (Squid drops to its user, the resolver binds port 53)' }
    : !existsSync('/usr/sbin/squid')
      ? { ok: false, reason: 'squid is not installed (scripts/setup-host.sh)' }
      : { ok: true, reason: '' };
const run = requireHost(support, 'egress-manager');

async function squidPids(stateDir: string, id: string): Promise<number[]> {
  const pid = Number(await readFile(join(stateDir, id, 'squid', 'squid.pid'), 'utf8').catch(() => '0'));
  return pid > 0 ? withChildren(pid) : [];
}

describe.skipIf(!run)('egress manager: ports, failed starts and the leftover sweep', () => {
  let stateDir: string;
  const managers: EgressManager[] = [];
  const manager = (
    over: Record<string, unknown> = {},
    extra: { daemonId?: string; ports?: PortReservations } = {},
  ) => {
    const m = new EgressManager({
      config: EgressConfig.parse(over),
      stateDir,
      logger: silent,
      clock: { now: () => Date.now() },
      sink: () => {},
      upstreamDns: [],
      daemonId: 'daemon-a',
      ...extra,
    });
    managers.push(m);
    return m;
  };
  const policy = buildEgressPolicy({ allow: [{ host: 'example.test' }] });

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'aibox-egress-mgr-'));
  });

  afterAll(async () => {
    for (const m of managers) {
      for (const id of await readdir(stateDir).catch(() => [] as string[])) await m.release(id);
      await m.close();
    }
    await rm(stateDir, { recursive: true, force: true });
  });

  it('gives 20 concurrent starts 20 different proxy ports, each held by its own Squid', async () => {
    const m = manager();
    const ids = Array.from({ length: 20 }, (_, i) => `sbx_port${i}`);
    const states = await Promise.all(ids.map((id) => m.prepare(id, policy)));
    const ports = states.map((s) => s.proxyPort);
    expect(new Set(ports).size).toBe(20);
    expect(new Set(states.map((s) => s.squidDnsAddress)).size).toBe(20);
    expect(new Set(states.map((s) => s.dnsPort)).size).toBe(20);
    for (const s of states) {
      const own = await squidPids(stateDir, s.sandboxId);
      expect(own.length).toBeGreaterThan(0);
      expect(await listenerHeldBy(own, s.listenAddress, s.proxyPort)).toBe(true);
      // and not by any other sandbox's Squid
      const other = states.find((o) => o.sandboxId !== s.sandboxId)!;
      expect(
        await listenerHeldBy(await squidPids(stateDir, other.sandboxId), s.listenAddress, s.proxyPort),
      ).toBe(false);
    }
    await Promise.all(ids.map((id) => m.release(id)));
    expect((await readdir(stateDir)).filter((d) => d.startsWith('sbx_port'))).toEqual([]);
  });

  it('retries with another port when another process took the one it picked', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const taken = (squatter.address() as { port: number }).port;
    try {
      const m = manager({}, { ports: new TakenFirst([taken]) });
      const s = await m.prepare('sbx_retry', policy);
      expect(s.proxyPort).not.toBe(taken);
      expect(await listenerHeldBy(await squidPids(stateDir, 'sbx_retry'), '127.0.0.1', s.proxyPort)).toBe(
        true,
      );
      await m.release('sbx_retry');
    } finally {
      squatter.close();
    }
  });

  it('fails naming the missing squid binary and leaves no state directory behind', async () => {
    const m = manager({ squid: '/nonexistent/squid' });
    const err = await m.prepare('sbx_nosquid', policy).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EGRESS_SQUID' });
    expect((err as Error).message).toContain('/nonexistent/squid');
    expect((err as Error).message).toContain('egress.squid');
    expect(existsSync(join(stateDir, 'sbx_nosquid'))).toBe(false);
  });

  it('fails naming the refusing binary when squid.conf is refused, and leaves nothing behind', async () => {
    const m = manager({ squid: '/bin/false' });
    const err = await m.prepare('sbx_refused', policy).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EGRESS_SQUID' });
    expect((err as Error).message).toMatch(/refused by \/bin\/false \(exit 1\)/);
    expect(existsSync(join(stateDir, 'sbx_refused'))).toBe(false);
    // the resolver's ports were closed too: the same manager can start a sandbox with a working squid afterwards
    const ok = manager();
    await ok.prepare('sbx_after', policy);
    await ok.release('sbx_after');
  });

  it('gives up after a bounded number of taken ports, leaving nothing behind', async () => {
    const squatters: Server[] = [];
    for (let i = 0; i < 5; i++) {
      const s = createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      squatters.push(s);
    }
    try {
      const ports = squatters.map((s) => (s.address() as { port: number }).port);
      const m = manager({}, { ports: new TakenFirst(ports) });
      await expect(m.prepare('sbx_alltaken', policy)).rejects.toMatchObject({ code: 'EGRESS_SQUID' });
      expect(existsSync(join(stateDir, 'sbx_alltaken'))).toBe(false);
    } finally {
      for (const s of squatters) s.close();
    }
  });

  it('releases a running Squid at once, with its shared memory (no graceful shutdown: crash recovery tears down many in a row)', async () => {
    const m = manager();
    await m.prepare('sbx_fast', policy);
    const pids = await squidPids(stateDir, 'sbx_fast');
    expect(pids.length).toBeGreaterThan(1);
    // Its shared memory carries its own service name (Squids sharing a name collide when started together), and a
    // killed Squid's segments are removed with it.
    const segments = async () => (await readdir('/dev/shm')).filter((n) => n.startsWith('aiboxsbxfast-'));
    expect((await segments()).length).toBeGreaterThan(0);
    await m.release('sbx_fast');
    expect(await segments()).toEqual([]);
    for (const pid of pids)
      expect((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('sbx_fast')).toBe(
        false,
      );
  });

  it("sweeps only this daemon's leftovers, never a live or running sandbox's", async () => {
    // A start interrupted by a crash: its Squid runs on, its directory stays (close() keeps both for adopt()).
    const before = manager();
    await before.prepare('sbx_orphan', policy);
    await before.prepare('sbx_running', policy);
    await before.close();
    const orphanSquid = await squidPids(stateDir, 'sbx_orphan');
    expect(orphanSquid.length).toBeGreaterThan(0);
    // Another daemon's directory, and one without any owner mark.
    await mkdir(join(stateDir, 'sbx_other'), { recursive: true });
    await writeFile(join(stateDir, 'sbx_other', 'owner'), 'daemon-b');
    await mkdir(join(stateDir, 'sbx_unmarked'), { recursive: true });

    const after = manager();
    await after.prepare('sbx_live', policy);
    const swept = await after.sweep(async () => new Set(['sbx_running']));
    expect(swept).toEqual(['sbx_orphan']);
    const left = await readdir(stateDir);
    expect(left).not.toContain('sbx_orphan');
    for (const kept of ['sbx_running', 'sbx_other', 'sbx_unmarked', 'sbx_live']) expect(left).toContain(kept);
    // the orphan's Squid is gone, the live one still answers on its port
    for (const pid of orphanSquid)
      expect(
        existsSync(`/proc/${pid}/cmdline`) &&
          (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes('sbx_orphan'),
      ).toBe(false);
    const live = after.state('sbx_live')!;
    expect(
      await listenerHeldBy(await squidPids(stateDir, 'sbx_live'), live.listenAddress, live.proxyPort),
    ).toBe(true);
    // a manager without a daemon id sweeps nothing
    expect(await manager({}, { daemonId: undefined }).sweep(async () => new Set())).toEqual([]);
    await after.release('sbx_live');
    await after.release('sbx_running');
    await rm(join(stateDir, 'sbx_other'), { recursive: true });
    await rm(join(stateDir, 'sbx_unmarked'), { recursive: true });
  });
});
