/**
 * Prerequisite checks for integration tests. Locally a missing prerequisite skips the suite with the reason; in CI
 * (CI=true) it fails instead, because CI installs everything and nothing may silently skip there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';

export interface HostSupport {
  ok: boolean;
  reason: string;
}

export function sandboxHostSupport(): HostSupport {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'needs root (aiboxd manages mounts, cgroups and nftables)' };
  if (!existsSync('/usr/bin/podman'))
    return { ok: false, reason: 'podman is not installed (scripts/setup-host.sh)' };
  if (!existsSync('/opt/aibox/runtime/runsc'))
    return { ok: false, reason: 'runsc is not installed (scripts/setup-host.sh)' };
  if (!readFileSync('/etc/passwd', 'utf8').includes('\naibox:')) {
    return { ok: false, reason: 'the aibox user is missing (scripts/setup-host.sh)' };
  }
  return { ok: true, reason: '' };
}

export function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns whether the suite should run. In CI a missing prerequisite throws (the suite fails loudly); locally the
 * reason is printed and the suite is skipped.
 */
export function requireHost(support: HostSupport, suite: string): boolean {
  if (support.ok) return true;
  if (process.env.CI) throw new Error(`${suite}: ${support.reason} — CI must provide it`);
  console.warn(`[skip] ${suite}: ${support.reason}`);
  return false;
}

/**
 * Removes every container labelled with this daemon's id, through the podman CLI as the rootless user: the safety net
 * of a test daemon's stop() when its API could not remove them (it did not start again, it crashed mid-test).
 */
export async function removeDaemonContainers(stateDir: string, daemonId: string): Promise<string[]> {
  const conf = path.join(stateDir, 'podman', 'containers.conf');
  if (process.getuid?.() !== 0 || !existsSync(conf)) return [];
  const [, , uid, gid, , home] = (await execa('getent', ['passwd', 'aibox'], { reject: false })).stdout.split(
    ':',
  );
  if (!uid) return [];
  const podman = (args: string[]) =>
    execa('podman', args, {
      env: { HOME: home!, XDG_RUNTIME_DIR: `/run/aibox/user-${uid}`, CONTAINERS_CONF: conf },
      extendEnv: false,
      uid: Number(uid),
      gid: Number(gid),
      cwd: '/',
      reject: false,
    });
  const ids = (await podman(['ps', '-a', '-q', '--filter', `label=io.aibox.daemon=${daemonId}`])).stdout
    .split('\n')
    .filter(Boolean);
  if (ids.length) await podman(['rm', '-f', '-t', '0', ...ids]);
  return ids;
}
