/**
 * prepare({ background: true }), the mode the daemon's start uses: Squid finishes starting while the container is
 * made, and attach() opens nothing until it is up. A Squid that fails in the background fails attach (naming
 * EGRESS_SQUID), a release during its start leaves no process behind, and a working one ends with the verified
 * ruleset in the namespace and the proxy answering through it. Real Squid and nft, in a test network namespace.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortReservations } from '../../src/egress/index.js';
import {
  EgressConfig,
  EgressManager,
  buildEgressPolicy,
  canConnect,
  listenerHeldBy,
  withChildren,
} from '../../src/egress/index.js';
import { createNetns, netnsSkipReason, type TestNetns } from '../egress/support/netns.js';
import { silent, TakenFirst } from '../egress/support/manager.js';
import { requireHost } from '../support/host.js';

const reason = await netnsSkipReason();
const run = requireHost({ ok: reason === undefined, reason: reason ?? '' }, 'egress-background');

describe.runIf(run)('egress prepared in the background', () => {
  let stateDir: string;
  let ns: TestNetns;
  const managers: EgressManager[] = [];
  const manager = (over: Record<string, unknown> = {}, ports?: PortReservations) => {
    const m = new EgressManager({
      config: EgressConfig.parse(over),
      stateDir,
      logger: silent,
      clock: { now: () => Date.now() },
      sink: () => {},
      upstreamDns: [],
      daemonId: 'daemon-bg',
      ...(ports ? { ports } : {}),
    });
    managers.push(m);
    return m;
  };
  const policy = buildEgressPolicy({ allow: [{ host: 'example.test' }] });
  const squidsOf = async (id: string) => {
    const r = await readdir('/proc');
    const out: number[] = [];
    for (const p of r.filter((x) => /^[0-9]+$/.test(x))) {
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
      if (cmd.includes('squid') && cmd.includes(join(stateDir, id))) out.push(Number(p));
    }
    return out;
  };

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'aibox-egress-bg-'));
    ns = await createNetns(71);
  });

  afterAll(async () => {
    for (const m of managers) {
      for (const id of await readdir(stateDir).catch(() => [] as string[]))
        await m.release(id, ns ? { name: ns.name } : undefined);
      await m.close();
    }
    await ns?.destroy();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('returns before Squid is up; attach waits for it, then applies and verifies the ruleset', async () => {
    const m = manager({ listenAddress: ns.host4, sandboxHostAddress: ns.host4 });
    const began = performance.now();
    const state = await m.prepare('sbx_bg_ok', policy, { background: true });
    const prepared = performance.now() - began;
    expect(state.proxyPort).toBeGreaterThan(0);
    // Squid cannot listen this early: its own start (write, parse, spawn, listen) takes tens of ms at the least.
    const listeningAtOnce = await canConnect({ address: state.listenAddress, port: state.proxyPort }, 200);
    await m.attach('sbx_bg_ok', { name: ns.name });
    const own = await withChildren((await squidsOf('sbx_bg_ok'))[0]!);
    expect(await listenerHeldBy(own, state.listenAddress, state.proxyPort)).toBe(true);
    expect(listeningAtOnce, `prepare took ${prepared.toFixed(0)} ms`).toBe(false);
    await expect(m.verify('sbx_bg_ok')).resolves.toMatchObject({ deniedPackets: expect.any(Number) });
    // The proxy answers from inside the namespace, through the ruleset that attach applied.
    const r = await ns.exec('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--max-time',
      '5',
      '-x',
      `http://${state.listenAddress}:${state.proxyPort}`,
      'http://not-allowed.test/',
    ]);
    expect(r.stdout).toBe('403');
    await m.release('sbx_bg_ok', { name: ns.name });
    expect(await squidsOf('sbx_bg_ok')).toEqual([]);
    expect(existsSync(join(stateDir, 'sbx_bg_ok'))).toBe(false);
  });

  it('fails attach with EGRESS_SQUID when the port was taken meanwhile (no retry: the port is in the environment)', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const taken = (squatter.address() as { port: number }).port;
    try {
      const m = manager({}, new TakenFirst([taken]));
      const state = await m.prepare('sbx_bg_taken', policy, { background: true });
      expect(state.proxyPort).toBe(taken);
      await expect(m.attach('sbx_bg_taken', { name: ns.name })).rejects.toMatchObject({
        code: 'EGRESS_SQUID',
      });
      // Nothing was applied in the namespace.
      const tables = await ns.exec('nft', ['list', 'tables']);
      expect(tables.stdout).not.toContain('aibox_');
      await m.release('sbx_bg_taken', { name: ns.name });
      expect(await squidsOf('sbx_bg_taken')).toEqual([]);
      expect(existsSync(join(stateDir, 'sbx_bg_taken'))).toBe(false);
    } finally {
      squatter.close();
    }
  });

  it('fails attach naming the binary when Squid refuses to start in the background', async () => {
    const m = manager({ squid: '/bin/false' });
    await m.prepare('sbx_bg_false', policy, { background: true });
    const err = await m.attach('sbx_bg_false', { name: ns.name }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EGRESS_SQUID' });
    expect((err as Error).message).toContain('/bin/false');
    await m.release('sbx_bg_false');
    expect(existsSync(join(stateDir, 'sbx_bg_false'))).toBe(false);
  });

  it('leaves no Squid behind when released while Squid is still starting', async () => {
    const m = manager();
    const ids = Array.from({ length: 5 }, (_, i) => `sbx_bg_early${i}`);
    for (const id of ids) await m.prepare(id, policy, { background: true });
    await Promise.all(ids.map((id) => m.release(id)));
    for (const id of ids) {
      expect(await squidsOf(id), id).toEqual([]);
      expect(existsSync(join(stateDir, id))).toBe(false);
    }
    const segments = (await readdir('/dev/shm')).filter((n) => n.startsWith('aiboxsbxbgearly'));
    expect(segments).toEqual([]);
  });
});
