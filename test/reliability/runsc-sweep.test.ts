/**
 * gVisor containers Podman lost (what a daemon killed mid-create can leave: runsc state and runsc-sandbox/gofer
 * processes with no Podman record). Made here on purpose, straight through runsc with a running sandbox's spec: one
 * bound to the daemon's folders (its own), one bound to nothing of it (another daemon's, as far as it can tell). A
 * restart must sweep the first (state and processes gone) and leave the second and the adopted sandbox alone.
 * Starts one gVisor sandbox and two bare runsc containers: run through flock.
 */
import { randomBytes } from 'node:crypto';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonIdFor } from '../../src/runtime/labels.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import {
  podmanAs,
  podmanUser,
  requireHost,
  runscStatesOf,
  runtimeLeftovers,
  sandboxHostSupport,
} from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'reliability/runsc-sweep');

interface OciSpec {
  process: { args: string[]; terminal?: boolean };
  mounts: { source: string; destination: string }[];
}

describe.skipIf(!run)('the restart sweep of gVisor containers Podman lost', () => {
  let daemon: TestDaemon;
  let project: string;
  let daemonId: string;
  const forged: string[] = [];

  const runsc = async (args: string[], detached = false) => {
    const { runscRoot } = await podmanUser();
    const wrapper = path.join(daemon.stateDir, 'podman', 'runsc-wrapper');
    return podmanAs(daemon.stateDir, ['unshare', wrapper, '--root', runscRoot, ...args], detached);
  };

  /** A runsc container with the running sandbox's spec (its command a sleep), unknown to Podman. */
  const forge = async (spec: OciSpec, keep: (m: OciSpec['mounts'][number]) => boolean): Promise<string> => {
    const id = randomBytes(32).toString('hex');
    forged.push(id);
    const bundle = path.join(daemon.dir, `bundle-${id.slice(0, 8)}`);
    const { uid, gid } = await podmanUser();
    await mkdir(bundle);
    await writeFile(
      path.join(bundle, 'config.json'),
      JSON.stringify({
        ...spec,
        process: { ...spec.process, terminal: false, args: ['/bin/sleep', '600'] },
        mounts: spec.mounts.filter(keep),
      }),
    );
    await chown(bundle, uid, gid);
    await chown(path.join(bundle, 'config.json'), uid, gid);
    // Detached: the container's processes inherit runsc's stdio.
    expect((await runsc(['create', '--bundle', bundle, id], true)).exitCode, 'runsc create').toBe(0);
    expect((await runsc(['start', id], true)).exitCode, 'runsc start').toBe(0);
    return id;
  };

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'rsweep' });
    daemonId = daemonIdFor(daemon.stateDir);
    project = await makeProject('rsweep');
  }, 120_000);

  afterAll(async () => {
    if (daemon) {
      for (const id of forged) {
        await runsc(['kill', '--all', id, '9']).catch(() => undefined);
        await runsc(['delete', '--force', id]).catch(() => undefined);
      }
      await daemon.stop();
    }
    if (project) await rm(project, { recursive: true, force: true });
  }, 120_000);

  it("removes its own lost container's state and processes, and nothing of anyone else's", async () => {
    const a = await daemon.api<{ containerId: string }>('POST', '/v1/sandboxes', {
      path: project,
      name: 'kept',
    });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    const { runscRoot } = await podmanUser();
    const stateText = await readFile(
      path.join(runscRoot, `${a.body.containerId}_sandbox:${a.body.containerId}.state`),
      'utf8',
    );
    const { spec } = JSON.parse(stateText) as { spec: OciSpec };
    const daemonMounts = `/run/aibox/mounts/${daemonId}/`;
    const ofDaemon = (source: string) =>
      source.startsWith(daemonMounts) || source.startsWith(`${daemon.stateDir}/`);
    // Ours: the sandbox's own binds, the agent's socket folder aside (the running agent owns it).
    const lost = await forge(spec, (m) => !m.source.startsWith(path.join(daemon.stateDir, 'agents')));
    // Not attributable to this daemon: nothing of its folders is bound.
    const foreign = await forge(spec, (m) => !ofDaemon(m.source));
    const before = await runtimeLeftovers(daemon.stateDir, daemonId, [lost, foreign]);
    expect(before.states).toContain(lost);
    expect(before.processes.filter((p) => p.endsWith(lost)).length).toBeGreaterThan(0);
    expect(before.processes.filter((p) => p.endsWith(foreign)).length).toBeGreaterThan(0);

    await daemon.crash();
    await daemon.restart();

    const log = await daemon.log();
    const sweptLines = log.split('\n').filter((l) => l.includes('swept a gVisor container'));
    expect(sweptLines.join('\n')).toContain(lost);
    expect(sweptLines.join('\n')).not.toContain(foreign);
    expect(sweptLines.join('\n')).not.toContain(a.body.containerId);
    const after = await runtimeLeftovers(daemon.stateDir, daemonId, [lost, foreign]);
    expect(after.states, 'runsc state left').not.toContain(lost);
    expect(
      after.processes.filter((p) => p.endsWith(lost)),
      'processes of the lost container',
    ).toEqual([]);
    // The other one is untouched: its processes still run and runsc still knows it.
    expect(after.processes.filter((p) => p.endsWith(foreign)).length).toBeGreaterThan(0);
    const state = await runsc(['state', foreign]);
    expect(JSON.parse(String(state.stdout)) as { status: string }).toMatchObject({ status: 'running' });
    expect(await runscStatesOf(daemon.stateDir, daemonId)).toEqual([a.body.containerId]);
    // The sandbox Podman knows was re-adopted, not swept.
    expect((await daemon.exec('kept', ['echo', 'alive'])).stdout).toBe('alive\n');
  }, 240_000);
});
