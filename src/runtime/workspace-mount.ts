import { mkdir, rmdir, stat, readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { execa } from 'execa';
import { runtimeErrors } from './errors.js';

const IDMAP_HELPER = fileURLToPath(new URL('../../libexec/idmap-mount.py', import.meta.url));
/** Disk id given to files the sandbox's file server creates before it hands them to the sandbox user. */
const TRANSIENT_DISK_ID = 65533;

export interface IdShift {
  /** Host id that appears as the sandbox user inside (rootless: the aibox user; rootful: the sandbox uid). */
  sandboxUser: number;
  sandboxGroup: number;
  /** Host id of the container's root (gVisor's file server runs as it). */
  containerRoot: number;
}

/**
 * Per-sandbox idmapped view of the project folder under mountsDir/<sandbox-id>/workspace. mountsDir must be a
 * shared-propagation mount created before the rootless Podman pause process starts, or the container would see the
 * empty directory under the mount (ensureSharedRoot does that).
 */
export class WorkspaceMounts {
  constructor(private readonly mountsDir: string) {}

  targetOf(sandboxId: string): string {
    return path.join(this.mountsDir, sandboxId, 'workspace');
  }

  async ensureSharedRoot(): Promise<{ created: boolean }> {
    await mkdir(this.mountsDir, { recursive: true, mode: 0o755 });
    const info = await execa('findmnt', ['-n', '-o', 'TARGET,PROPAGATION', '--mountpoint', this.mountsDir], {
      reject: false,
    });
    if (info.exitCode === 0 && /shared/.test(info.stdout)) return { created: false };
    if (info.exitCode !== 0) await execa('mount', ['--bind', this.mountsDir, this.mountsDir]);
    await execa('mount', ['--make-rshared', this.mountsDir]);
    return { created: true };
  }

  async mount(sandboxId: string, source: string, shift: IdShift): Promise<string> {
    const target = this.targetOf(sandboxId);
    await this.unmount(sandboxId);
    await mkdir(target, { recursive: true });
    const owner = await stat(source);
    const result = await execa(
      '/usr/bin/python3',
      [
        IDMAP_HELPER,
        source,
        target,
        `u:${owner.uid}:${shift.sandboxUser}`,
        `u:${TRANSIENT_DISK_ID}:${shift.containerRoot}`,
        `g:${owner.gid}:${shift.sandboxGroup}`,
        `g:${TRANSIENT_DISK_ID}:${shift.containerRoot}`,
      ],
      { reject: false },
    );
    if (result.exitCode !== 0) {
      throw runtimeErrors.create(
        'RUNTIME_WORKSPACE_MOUNT',
        `cannot mount ${source}: ${result.stderr.trim()}`,
        {
          path: source,
        },
      );
    }
    return target;
  }

  async unmount(sandboxId: string): Promise<void> {
    const dir = path.join(this.mountsDir, sandboxId);
    const target = this.targetOf(sandboxId);
    if (await isMountPoint(target)) {
      const r = await execa('umount', [target], { reject: false });
      if (r.exitCode !== 0) await execa('umount', ['-l', target], { reject: false });
    }
    if (await isMountPoint(target)) {
      throw runtimeErrors.create('RUNTIME_WORKSPACE_MOUNT', `${target} is still mounted (busy)`, {
        path: target,
      });
    }
    // rmdir, never a recursive delete: if anything were still mounted here it would be the user's project.
    await rmdir(target).catch(ignoreMissing);
    await rmdir(dir).catch(ignoreMissing);
  }

  /** Sandbox ids that have a mount directory (for sweeping after a crash). */
  async list(): Promise<string[]> {
    return (await readdir(this.mountsDir).catch(() => [])).filter((e) => e.startsWith('sbx_'));
  }
}

async function isMountPoint(dir: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === dir);
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
