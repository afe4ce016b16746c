import { chown, mkdir, open, readFile, rmdir, statfs, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { messageOf } from '../shared/index.js';
import { engineErrors } from './errors.js';

/** The default hard cap of one engine's disk (its root filesystem, images, build layers): profile containerEngineDiskMiB. */
export const ENGINE_DISK_DEFAULT_MIB = 20 * 1024;

export interface EngineStoreOptions {
  /** Where the image file is made: the daemon's own state, never a path the agent can write. */
  imageFile: string;
  /** Where it is mounted: under the runtime's shared mounts folder, so rootless Podman sees it. */
  mountPoint: string;
  sizeMiB: number;
  /** Host ids of the engine's root (rootless: the aibox user; rootful: root): owner of the file system. */
  owner: { uid: number; gid: number };
}

/**
 * One engine's disk, capped by the host kernel: a sparse ext4 file of a fixed size, loop-mounted (nosuid, nodev) by
 * aiboxd and owned by the engine's root. The engine's root filesystem is unpacked there and gVisor keeps the
 * engine's writes (its root overlay's file store, `--overlay2=root:self`) next to it, so the store, the layers and
 * every build write land on that file system and get ENOSPC at its size. The image file is unlinked as soon as it is
 * mounted: the loop device holds the only reference, and the kernel frees it when the last mount goes (`mount -o
 * loop` sets autoclear), so no file, loop device or mount outlives an unmount, even after a crash.
 */
export class EngineStore {
  constructor(private readonly o: EngineStoreOptions) {}

  get rootfs(): string {
    return path.join(this.o.mountPoint, 'rootfs');
  }

  async create(): Promise<void> {
    const { imageFile, mountPoint, sizeMiB, owner } = this.o;
    await mkdir(path.dirname(imageFile), { recursive: true, mode: 0o711 });
    await mkdir(mountPoint, { recursive: true, mode: 0o755 });
    try {
      const file = await open(imageFile, 'wx', 0o600);
      try {
        await file.truncate(sizeMiB * 1024 * 1024);
      } finally {
        await file.close();
      }
      await run('make its file system', 'mkfs.ext4', [
        '-q',
        '-F',
        '-m',
        '0',
        '-E',
        `root_owner=${owner.uid}:${owner.gid}`,
        imageFile,
      ]);
      await run('mount it', 'mount', ['-o', 'loop,nosuid,nodev', imageFile, mountPoint]);
    } finally {
      await unlink(imageFile).catch(() => undefined);
    }
    await rmdir(path.join(mountPoint, 'lost+found')).catch(() => undefined);
  }

  /**
   * Unpacks the engine image's tarball as the engine's root (rootless: as the aibox user, so every file is the
   * engine's root's inside). Device nodes are left out: gVisor gives the engine its own /dev.
   */
  async unpack(tarball: string, asUser: { uid: number; gid: number } | undefined): Promise<void> {
    const rootfs = this.rootfs;
    await mkdir(rootfs, { mode: 0o755 });
    const { owner } = this.o;
    await chown(rootfs, owner.uid, owner.gid);
    await run(
      'unpack the engine image',
      'tar',
      ['--numeric-owner', '--exclude=./dev/*', '-C', rootfs, '-xf', tarball],
      asUser,
    );
  }

  /**
   * After a daemon restart: the disk must still be mounted where it was (the engine's root filesystem is on it).
   * Throws ENGINE_ADOPT_FAILED when it is not: the mount point's entry in the kernel's mount table, never a file.
   */
  async assertMounted(): Promise<void> {
    const problem = diskMountProblem(await readFile('/proc/self/mountinfo', 'utf8'), this.o.mountPoint);
    if (problem)
      throw engineErrors.create(
        'ENGINE_ADOPT_FAILED',
        `the engine cannot be re-adopted: its disk ${problem}`,
      );
  }

  /**
   * Writes one configuration file into the unpacked root filesystem (before the engine starts), owned by the engine's
   * root. `relPath` is the daemon's own constant: the tree is the engine image's, which nothing else has written yet.
   */
  async addFile(relPath: string, text: string): Promise<void> {
    const target = path.join(this.rootfs, relPath);
    await writeFile(target, text, { mode: 0o644 });
    await chown(target, this.o.owner.uid, this.o.owner.gid);
  }

  /** Size and use of the file system, in bytes (what `info` reports). */
  async usage(): Promise<{ sizeBytes: number; usedBytes: number } | undefined> {
    const s = await statfs(this.o.mountPoint).catch(() => undefined);
    if (!s) return undefined;
    return { sizeBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize };
  }
}

/**
 * Pure: what is wrong with the engine disk's mount in a mountinfo text, undefined when the last mount at
 * `mountPoint` is an ext4 file system on a loop device (as create() made it).
 */
export function diskMountProblem(mountinfo: string, mountPoint: string): string | undefined {
  const at = mountinfo
    .split('\n')
    .map((l) => l.split(' '))
    // Field 5 is the mount point (octal escapes for spaces and such: the daemon's paths have none).
    .filter((f) => f[4] === mountPoint);
  const f = at.at(-1);
  if (!f) return `is not mounted at ${mountPoint}`;
  const sep = f.indexOf('-');
  const fstype = f[sep + 1];
  const source = f[sep + 2] ?? '';
  if (sep < 0 || fstype !== 'ext4' || !/^\/dev\/loop\d+$/.test(source))
    return `at ${mountPoint} is ${fstype ?? '?'} on ${source || '?'}, not ext4 on a loop device`;
  return undefined;
}

async function run(
  what: string,
  cmd: string,
  args: string[],
  as?: { uid: number; gid: number },
): Promise<void> {
  const r = await execa(cmd, args, { reject: false, ...(as ?? {}), cwd: '/' });
  if (r.exitCode !== 0)
    throw engineErrors.create(
      'ENGINE_START_FAILED',
      `engine disk: cannot ${what}: ${messageOf(r.stderr || r.shortMessage)
        .split('\n')
        .slice(-3)
        .join(' | ')}`,
    );
}
