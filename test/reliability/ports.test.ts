/**
 * 20 concurrent creates on one real daemon: every sandbox starts, and no two share a proxy port, a resolver port or
 * a Squid resolver address; each proxy port is held by that sandbox's own Squid (not merely "something answers").
 * Starts 20 gVisor sandboxes: run through flock. Bounded: creates and removals run concurrently.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenerHeldBy, withChildren } from '../../src/egress/index.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'reliability/ports');
const N = 20;

interface Created {
  id: string;
  name: string;
  endpoints: Record<string, string>;
}

interface EgressState {
  sandboxId: string;
  listenAddress: string;
  proxyPort: number;
  dnsPort: number;
  squidDnsAddress: string;
}

describe.skipIf(!run)(`${N} concurrent creates`, () => {
  let daemon: TestDaemon;
  const projects: string[] = [];

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'ports' });
    for (let i = 0; i < N; i++) projects.push(await makeProject(`ports-${i}`));
  }, 120_000);

  afterAll(async () => {
    if (daemon) {
      const list = await daemon.api<{ sandboxes: { name: string }[] }>('GET', '/v1/sandboxes');
      await Promise.all(
        (list.body.sandboxes ?? []).map((s) => daemon.api('DELETE', `/v1/sandboxes/${s.name}`)),
      );
      await daemon.stop();
    }
    for (const p of projects) await rm(p, { recursive: true, force: true });
  }, 300_000);

  it('start, each with its own proxy and resolver, held by its own Squid', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      projects.map((p, i) =>
        daemon.api<Created | { error: { code: string; message: string } }>('POST', '/v1/sandboxes', {
          path: p,
          name: `ports-${i}`,
        }),
      ),
    );
    console.info(`${N} concurrent creates took ${Date.now() - started} ms`);
    const failed = answers.filter((a) => a.status !== 201).map((a) => JSON.stringify(a.body));
    expect(failed).toEqual([]);
    const created = answers.map((a) => a.body as Created);
    const proxyPorts = created.map((c) => Number(/:([0-9]+)$/.exec(c.endpoints.proxy ?? '')?.[1]));
    expect(proxyPorts.every((p) => p > 0)).toBe(true);
    expect(new Set(proxyPorts).size).toBe(N);

    const states: EgressState[] = [];
    for (const c of created)
      states.push(
        JSON.parse(
          await readFile(path.join(daemon.stateDir, 'egress', c.id, 'state.json'), 'utf8'),
        ) as EgressState,
      );
    expect(new Set(states.map((s) => s.dnsPort)).size).toBe(N);
    expect(new Set(states.map((s) => s.squidDnsAddress)).size).toBe(N);
    for (const [i, s] of states.entries()) {
      expect(s.proxyPort).toBe(proxyPorts[i]);
      const pid = Number(
        await readFile(path.join(daemon.stateDir, 'egress', s.sandboxId, 'squid', 'squid.pid'), 'utf8'),
      );
      expect(await listenerHeldBy(await withChildren(pid), s.listenAddress, s.proxyPort)).toBe(true);
    }
  }, 300_000);
});
