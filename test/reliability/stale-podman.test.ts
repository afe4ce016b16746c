/**
 * Everything dies at once (the host's processes are lost, its files kept): aiboxd, its podman service, a sandbox's
 * conmon and gVisor processes and the rootless pause process, all with SIGKILL. Podman's database still says the
 * container runs, so every podman command fails ("invalid internal status") until the state is reset. A restarted
 * aiboxd must come back on its own, report the sandbox as not running, and remove it without leaving a container.
 * Kills the rootless pause process of the aibox user: run through flock, like every suite that starts sandboxes.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'reliability/stale-podman');

/** Pids of the processes whose command line contains `needle` (gVisor's run as ids of the user namespace). */
async function pidsWith(needle: string, user?: string): Promise<number[]> {
  const out = await execa('pgrep', [...(user ? ['-u', user] : []), '-f', needle], { reject: false });
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** The rootless Podman user and its runtime folder (as aiboxd sets XDG_RUNTIME_DIR for it). */
async function aiboxUser() {
  const [, , uid, gid, , home] = (await execa('getent', ['passwd', 'aibox'])).stdout.split(':');
  return { uid: Number(uid), gid: Number(gid), home: home!, runtimeDir: `/run/aibox/user-${uid}` };
}

describe.skipIf(!run)('a host whose processes all died, files kept', () => {
  const projects: string[] = [];
  afterAll(async () => {
    for (const p of projects) await rm(p, { recursive: true, force: true });
  });

  it('restarts aiboxd, which resets the stale podman state and removes the dead sandbox', async () => {
    const project = await makeProject('stale');
    projects.push(project);
    const daemon = await startTestDaemon({ name: 'stale' });
    try {
      const created = await daemon.api<{ id: string; state: string }>('POST', '/v1/sandboxes', {
        path: project,
        name: 'stale',
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id;
      expect((await daemon.exec('stale', ['echo', 'up'])).stdout).toBe('up\n');

      const record = JSON.parse(
        await readFile(path.join(daemon.stateDir, 'sandboxes', id, 'sandbox.json'), 'utf8'),
      ) as { containerId?: string };
      const containerId = record.containerId;
      expect(containerId, 'the sandbox record names its container').toBeTruthy();
      const user = await aiboxUser();
      const containersDir = `${user.runtimeDir}/containers/overlay-containers`;
      const conmonPidFile = (await readdir(containersDir).catch(() => [] as string[])).find((c) =>
        c.startsWith(containerId!),
      );
      const servicePid = Number(
        (await readFile(path.join(daemon.stateDir, 'podman/service.pid'), 'utf8')).trim(),
      );

      await daemon.crash();
      const victims = new Set<number>([servicePid]);
      if (conmonPidFile) {
        const conmon = await readFile(`${containersDir}/${conmonPidFile}/userdata/conmon.pid`, 'utf8').catch(
          () => '',
        );
        if (Number(conmon)) victims.add(Number(conmon));
      }
      for (const pid of await pidsWith(containerId!)) victims.add(pid);
      for (const pid of await pidsWith('catatonit -P', 'aibox')) victims.add(pid);
      for (const pid of victims) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(await pidsWith(containerId!), 'no process of the container is left').toEqual([]);

      await daemon.restart();
      const log = await daemon.log();
      // The reset runs only when no live container of this user was left to join (a quiet host, as in CI).
      console.log(
        log.includes('podman system migrate')
          ? 'podman state was stale: reset by aiboxd'
          : 'podman joined another live container: no reset needed',
      );
      const after = await daemon.api<{ id: string; state: string }>('GET', '/v1/sandboxes/stale');
      expect(after.status).toBe(200);
      expect(after.body.id).toBe(id);
      expect(['stopped', 'failed']).toContain(after.body.state);

      const removed = await daemon.api('DELETE', '/v1/sandboxes/stale');
      expect(removed.status, JSON.stringify(removed.body)).toBeLessThan(300);
      const left = await execa('podman', ['ps', '-a', '--format', '{{.Names}}'], {
        env: {
          HOME: user.home,
          XDG_RUNTIME_DIR: user.runtimeDir,
          CONTAINERS_CONF: path.join(daemon.stateDir, 'podman/containers.conf'),
        },
        uid: user.uid,
        gid: user.gid,
        reject: false,
      });
      expect(left.stderr).not.toContain('invalid internal status');
      expect(left.stdout).not.toContain(`aibox-${id}`);
    } finally {
      await daemon.stop();
    }
  }, 180_000);
});
