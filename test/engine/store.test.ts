/**
 * The engine's disk on the real kernel: a loop-mounted ext4 file of a fixed size whose file is gone once mounted, and
 * which a write past its size gets ENOSPC from. Needs root and loop devices (the CI host has both).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diskMountProblem, EngineStore } from '../../src/engine/index.js';

const isRoot = process.getuid?.() === 0;
const loops = isRoot && (await execa('losetup', ['-f'], { reject: false })).exitCode === 0;
if (!loops) {
  const reason = isRoot ? 'no free loop device (losetup -f)' : 'not root';
  if (process.env.CI) throw new Error(`engine store: ${reason} — CI must provide it`);
  console.warn(`[skip] engine store: ${reason}`);
}

async function mountOf(point: string) {
  const line = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .find((l) => l.split(' ')[4] === point);
  if (!line) return undefined;
  const f = line.split(' ');
  const sep = f.indexOf('-');
  return { options: f[5]!.split(','), fstype: f[sep + 1]!, device: f[sep + 2]! };
}

describe.skipIf(!loops)('the engine disk', () => {
  let dir: string;
  let mountPoint: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-engine-store-'));
    mountPoint = path.join(dir, 'mnt', 'workspace');
  });

  afterEach(async () => {
    await execa('umount', [mountPoint], { reject: false });
    await rm(dir, { recursive: true, force: true });
  });

  it('is a loop-mounted ext4 of the asked size, nosuid and nodev, owned by the engine root, its file already gone', async () => {
    const store = new EngineStore({
      imageFile: path.join(dir, 'state', 'disk.img'),
      mountPoint,
      sizeMiB: 64,
      owner: { uid: 995, gid: 995 },
    });
    await store.create();
    const m = await mountOf(mountPoint);
    expect(m?.fstype).toBe('ext4');
    expect(m?.device).toMatch(/^\/dev\/loop\d+$/);
    expect(m?.options).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
    expect(existsSync(path.join(dir, 'state', 'disk.img'))).toBe(false);
    const backing = await readFile(`/sys/block/${path.basename(m!.device)}/loop/backing_file`, 'utf8');
    expect(backing.trim()).toBe(`${path.join(dir, 'state', 'disk.img')} (deleted)`);
    expect(statSync(mountPoint).uid).toBe(995);
    const usage = await store.usage();
    expect(usage!.sizeBytes).toBeGreaterThan(50 * 1024 * 1024);
    expect(usage!.sizeBytes).toBeLessThanOrEqual(64 * 1024 * 1024);

    // A write past its size gets ENOSPC from the kernel.
    await expect(
      writeFile(path.join(mountPoint, 'big'), Buffer.alloc(80 * 1024 * 1024)),
    ).rejects.toMatchObject({
      code: 'ENOSPC',
    });

    // Unmounted, the loop device lets go (autoclear) and the file is freed with it.
    await execa('umount', [mountPoint]);
    let after = '';
    for (let i = 0; i < 20; i++) {
      after = await readFile(`/sys/block/${path.basename(m!.device)}/loop/backing_file`, 'utf8').catch(
        () => '',
      );
      if (!after.includes(dir)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(after).not.toContain(dir);
  });

  it('refuses to start over an image file that is already there (never reuses a disk)', async () => {
    const imageFile = path.join(dir, 'state', 'disk.img');
    const store = new EngineStore({ imageFile, mountPoint, sizeMiB: 64, owner: { uid: 0, gid: 0 } });
    await store.create();
    await execa('umount', [mountPoint]);
    await writeFile(imageFile, 'left over');
    await expect(store.create()).rejects.toThrow(/EEXIST/);
    expect(await mountOf(mountPoint)).toBeUndefined();
  });
});

describe('the engine disk a restarted daemon re-adopts', () => {
  const point = '/run/aibox/mounts/d1/sbx_1-engine/workspace';
  const line = (mp: string, fstype: string, source: string) =>
    `120 30 7:3 / ${mp} rw,nosuid,nodev,relatime shared:80 - ${fstype} ${source} rw`;

  it('is still mounted where it was: ext4 on a loop device at its mount point', () => {
    const info = [line('/', 'ext4', '/dev/sda1'), line(point, 'ext4', '/dev/loop7')].join('\n');
    expect(diskMountProblem(info, point)).toBeUndefined();
  });

  it('is refused when it is gone, or something else is mounted over its place', () => {
    expect(diskMountProblem(line('/', 'ext4', '/dev/sda1'), point)).toMatch(/is not mounted/);
    // A prefix of the path is not the mount point.
    expect(diskMountProblem(line(`${point}/rootfs`, 'ext4', '/dev/loop7'), point)).toMatch(/is not mounted/);
    expect(diskMountProblem(line(point, 'tmpfs', 'tmpfs'), point)).toMatch(/tmpfs on tmpfs/);
    // The last mount at a point is the one seen there.
    const over = [line(point, 'ext4', '/dev/loop7'), line(point, 'ext4', '/dev/sda1')].join('\n');
    expect(diskMountProblem(over, point)).toMatch(/not ext4 on a loop device/);
  });
});
