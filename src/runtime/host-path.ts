import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { runtimeErrors } from './errors.js';

const HELPER = fileURLToPath(new URL('../../libexec/idmap-mount.py', import.meta.url));

/** What a host path is, read from an fd opened without following any symbolic link. */
export interface HostPathInfo {
  dev: number;
  ino: number;
  uid: number;
  gid: number;
  mode: number;
  /** The path of the opened fd as the kernel names it (readlink /proc/self/fd/N). */
  real: string;
}

/** How a folder is recognised again at every start: "<st_dev>:<st_ino>". */
export function identityOf(info: Pick<HostPathInfo, 'dev' | 'ino'>): string {
  return `${info.dev}:${info.ino}`;
}

export function isDirectory(info: HostPathInfo): boolean {
  return (info.mode & 0o170000) === 0o040000;
}

export interface MountOptions {
  /** Refuse unless the opened source has this identity (see identityOf). */
  expect?: string;
  /** Refuse a source whose real path is, or lies under, one of these. */
  forbid?: string[];
  readOnly?: boolean;
  /** Refuse a source owned by uid 0 (the agent would write root-owned files on the host). */
  refuseRootOwner?: boolean;
  /** Idmap the owner of the source to these ids (see WorkspaceMounts). */
  shift?: { sandboxUser: number; sandboxGroup: number; containerRoot: number };
  /** Create the target as a folder or an empty file, as the opened source is. */
  makeTarget?: boolean;
}

/** The helper's exit codes (libexec/idmap-mount.py) and the refusal each one is. */
const REFUSALS: Record<number, 'missing' | 'symlink' | 'changed' | 'forbidden' | 'root-owned' | 'access'> = {
  3: 'missing',
  4: 'symlink',
  5: 'changed',
  6: 'forbidden',
  7: 'root-owned',
  13: 'access',
};

export type HostPathRefusal = (typeof REFUSALS)[number] | 'error';

/** A refusal from the helper, before it is turned into the caller's error code. */
export class HostPathError extends Error {
  constructor(
    readonly refusal: HostPathRefusal,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Opens `path` as root without following links and describes it; with `as`, also checks that this uid can itself
 * reach the path and read, write and enter it (the check runs with the caller's ids, not root's).
 */
export async function probeHostPath(path: string, as?: { uid: number; gid: number }): Promise<HostPathInfo> {
  const args = ['probe', path, ...(as ? ['--as', `${as.uid}:${as.gid}`] : [])];
  return JSON.parse(await runHelper(args)) as HostPathInfo;
}

/** Mounts `source` (opened without following links) on `target`: always nosuid,nodev. */
export async function mountHostPath(
  source: string,
  target: string,
  opts: MountOptions,
): Promise<HostPathInfo> {
  const args = ['mount', source, target];
  if (opts.expect) args.push('--expect', opts.expect);
  for (const f of opts.forbid ?? []) args.push('--forbid', f);
  if (opts.readOnly) args.push('--ro');
  if (opts.refuseRootOwner) args.push('--refuse-root-owner');
  if (opts.makeTarget) args.push('--make-target');
  if (opts.shift) {
    const s = opts.shift;
    args.push('--shift', `${s.sandboxUser}:${s.sandboxGroup}:${s.containerRoot}`);
  }
  return JSON.parse(await runHelper(args)) as HostPathInfo;
}

/** Mounts each source on its target (created to match) in one helper process; stops at the first refusal. */
export async function mountHostPaths(
  items: { source: string; target: string; readOnly: boolean; forbid: string[] }[],
): Promise<HostPathInfo[]> {
  if (items.length === 0) return [];
  return JSON.parse(await runHelper(['batch'], JSON.stringify(items))) as HostPathInfo[];
}

async function runHelper(args: string[], input?: string): Promise<string> {
  const r = await execa('/usr/bin/python3', [HELPER, ...args], { reject: false, input: input ?? '' });
  if (r.exitCode === 0) return r.stdout;
  const message = r.stderr.trim().replace(/^idmap-mount: /, '') || `helper exited with ${r.exitCode}`;
  throw new HostPathError(REFUSALS[r.exitCode ?? 1] ?? 'error', message);
}

/** The API error for a refused project folder. */
export function projectPathError(err: unknown, path: string): Error {
  if (!(err instanceof HostPathError)) return err as Error;
  const details = { path };
  switch (err.refusal) {
    case 'symlink':
      return runtimeErrors.create('SANDBOX_PATH_SYMLINK', err.message, details);
    case 'changed':
      return runtimeErrors.create('SANDBOX_PATH_CHANGED', err.message, details);
    case 'root-owned':
      return runtimeErrors.create('SANDBOX_PATH_ROOT_OWNED', err.message, details);
    case 'access':
      return runtimeErrors.create('SANDBOX_PATH_ACCESS', err.message, details);
    case 'forbidden':
      return runtimeErrors.create('SANDBOX_PATH_CHANGED', err.message, details);
    case 'missing':
    case 'error':
      return runtimeErrors.create('RUNTIME_WORKSPACE_MOUNT', `cannot mount ${path}: ${err.message}`, details);
  }
}
