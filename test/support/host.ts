/**
 * Prerequisite checks for integration tests. Locally a missing prerequisite skips the suite with the reason; in CI
 * (CI=true) it fails instead, because CI installs everything and nothing may silently skip there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

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
