/**
 * The periodic egress sweep of a real daemon: what its own failed or interrupted starts left in <state>/egress is
 * removed; another daemon's directory, an unmarked one and a running sandbox's are never touched. Starts one
 * gVisor sandbox: run through flock.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonIdOf } from '../../src/daemon/services/index.js';
import { listenerHeldBy, withChildren } from '../../src/egress/index.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'reliability/egress-sweep');

describe.skipIf(!run)('egress leftovers sweep', () => {
  let daemon: TestDaemon;
  let project: string;

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'sweep', config: { egress: { sweepIntervalSeconds: 1 } } });
    project = await makeProject('sweep');
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  }, 120_000);

  it("removes only this daemon's leftovers, never a running sandbox's state", async () => {
    const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', {
      path: project,
      name: 'sweep-a',
    });
    expect(created.status).toBe(201);
    const egress = path.join(daemon.stateDir, 'egress');
    const mark = async (id: string, owner?: string) => {
      await mkdir(path.join(egress, id, 'squid'), { recursive: true });
      if (owner !== undefined) await writeFile(path.join(egress, id, 'owner'), owner);
    };
    await mark('sbx_leftover', daemonIdOf(daemon.stateDir));
    await mark('sbx_otherdaemon', 'another-daemon');
    await mark('sbx_unmarked');
    const deadline = Date.now() + 10_000;
    while (existsSync(path.join(egress, 'sbx_leftover')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const left = await readdir(egress);
    expect(left).not.toContain('sbx_leftover');
    expect(left).toEqual(expect.arrayContaining(['sbx_otherdaemon', 'sbx_unmarked', created.body.id]));
    // the running sandbox's proxy is untouched: its own Squid still holds its port
    const state = JSON.parse(await readFile(path.join(egress, created.body.id, 'state.json'), 'utf8')) as {
      listenAddress: string;
      proxyPort: number;
    };
    const pid = Number(await readFile(path.join(egress, created.body.id, 'squid', 'squid.pid'), 'utf8'));
    expect(await listenerHeldBy(await withChildren(pid), state.listenAddress, state.proxyPort)).toBe(true);
    expect(await daemon.log()).toContain('swept egress leftovers');
  }, 180_000);
});
