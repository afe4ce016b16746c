import { spawn, execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkspaceFs } from '../../src/sessions/index.js';
import { codeOfRejection, scratch } from './helpers.js';

const MiB = 1024 * 1024;

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('WorkspaceFs', () => {
  let s: Awaited<ReturnType<typeof scratch>>;
  let fs: WorkspaceFs;
  beforeEach(async () => {
    s = await scratch();
    await writeFile(path.join(s.outside, 'secret.txt'), 'host secret');
    fs = new WorkspaceFs(s.ws, { maxFileBytes: 2 * MiB, maxTotalBytes: 4 * MiB });
  });
  afterEach(async () => s.done());

  const outsideUntouched = async () => {
    expect((await readdir(s.outside)).sort()).toEqual(['secret.txt']);
    expect(await readFile(path.join(s.outside, 'secret.txt'), 'utf8')).toBe('host secret');
  };

  it('round-trips binary files, makes folders, lists and deletes', async () => {
    const data = randomBytes(300_000);
    expect(await fs.writeFile(['a', 'b', 'bin.dat'], data, { mode: 0o755 })).toBe(data.length);
    const { size, stream } = await fs.readFile(['a', 'b', 'bin.dat']);
    expect(size).toBe(data.length);
    expect((await drain(stream)).equals(data)).toBe(true);
    expect((await stat(path.join(s.ws, 'a/b/bin.dat'))).mode & 0o777).toBe(0o755);
    const listed = await fs.list(['a']);
    expect(listed.map((e) => [e.name, e.path, e.type])).toEqual([['b', 'a/b', 'dir']]);
    expect(await codeOfRejection(fs.remove(['a'], false))).toBe('SESSION_DIR_NOT_EMPTY');
    await fs.remove(['a'], true);
    expect(await readdir(s.ws)).toEqual([]);
    expect(await fs.usage()).toBe(0);
  });

  it('writes an empty file and reads it back', async () => {
    await fs.writeFile(['empty'], Buffer.alloc(0));
    const { size, stream } = await fs.readFile(['empty']);
    expect(size).toBe(0);
    expect((await drain(stream)).length).toBe(0);
  });

  it('refuses a folder named through a link to the outside, for every operation', async () => {
    await symlink(s.outside, path.join(s.ws, 'abs-link'));
    await symlink('../outside', path.join(s.ws, 'rel-link'));
    await symlink('/etc', path.join(s.ws, 'etc'));
    for (const link of ['abs-link', 'rel-link', 'etc']) {
      expect(await codeOfRejection(fs.writeFile([link, 'x'], Buffer.from('x'))), link).toBe(
        'SESSION_PATH_ESCAPE',
      );
      expect(await codeOfRejection(fs.writeFile([link, 'new', 'x'], Buffer.from('x')))).toBe(
        'SESSION_PATH_ESCAPE',
      );
      expect(await codeOfRejection(fs.readFile([link, 'secret.txt']))).toBe('SESSION_PATH_ESCAPE');
      expect(await codeOfRejection(fs.list([link]))).toBe('SESSION_PATH_ESCAPE');
      expect(await codeOfRejection(fs.mkdirs([link, 'sub']))).toBe('SESSION_PATH_ESCAPE');
      expect(await codeOfRejection(fs.remove([link, 'secret.txt'], false))).toBe('SESSION_PATH_ESCAPE');
    }
    await outsideUntouched();
  });

  it('never reads through a file link and replaces (not writes through) a link it uploads over', async () => {
    await symlink(path.join(s.outside, 'secret.txt'), path.join(s.ws, 'link-file'));
    expect(await codeOfRejection(fs.readFile(['link-file']))).toBe('SESSION_PATH_ESCAPE');
    await fs.writeFile(['link-file'], Buffer.from('mine'));
    expect((await lstat(path.join(s.ws, 'link-file'))).isFile()).toBe(true);
    expect(await readFile(path.join(s.ws, 'link-file'), 'utf8')).toBe('mine');
    await outsideUntouched();
  });

  it('deletes a link itself, never what it points at, even recursively', async () => {
    await symlink(s.outside, path.join(s.ws, 'dir-link'));
    await mkdir(path.join(s.ws, 'tree'));
    await symlink(s.outside, path.join(s.ws, 'tree', 'inner-link'));
    await fs.remove(['dir-link'], true);
    await fs.remove(['tree'], true);
    expect(await readdir(s.ws)).toEqual([]);
    await outsideUntouched();
  });

  it('lists links as links without following them', async () => {
    await symlink(s.outside, path.join(s.ws, 'dir-link'));
    const [entry] = await fs.list([]);
    expect(entry).toMatchObject({ name: 'dir-link', type: 'symlink' });
  });

  it('refuses a FIFO without hanging, and folders where a file is meant', async () => {
    execFileSync('mkfifo', [path.join(s.ws, 'fifo')]);
    const started = Date.now();
    expect(await codeOfRejection(fs.readFile(['fifo']))).toBe('SESSION_PATH_NOT_FILE');
    expect(Date.now() - started).toBeLessThan(2000);
    await mkdir(path.join(s.ws, 'dir'));
    expect(await codeOfRejection(fs.readFile(['dir']))).toBe('SESSION_PATH_NOT_FILE');
    expect(await codeOfRejection(fs.writeFile(['dir'], Buffer.from('x')))).toBe('SESSION_PATH_NOT_FILE');
    expect(await codeOfRejection(fs.readFile([]))).toBe('SESSION_PATH_NOT_FILE');
    expect(await codeOfRejection(fs.readFile(['missing']))).toBe('SESSION_PATH_NOT_FOUND');
    expect(await codeOfRejection(fs.list(['missing']))).toBe('SESSION_PATH_NOT_FOUND');
    expect(await codeOfRejection(fs.remove(['missing'], true))).toBe('SESSION_PATH_NOT_FOUND');
    await writeFile(path.join(s.ws, 'file'), 'x');
    expect(await codeOfRejection(fs.list(['file']))).toBe('SESSION_PATH_NOT_DIR');
    expect(await codeOfRejection(fs.writeFile(['file', 'x'], Buffer.from('x')))).toBe('SESSION_PATH_NOT_DIR');
  });

  it('caps one file and the whole workspace, leaving no partial or temporary file', async () => {
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 1); // 2.5 MiB
      })(),
    );
    expect(await codeOfRejection(fs.writeFile(['big'], big))).toBe('SESSION_FILE_TOO_LARGE');
    expect(await readdir(s.ws)).toEqual([]);
    await fs.writeFile(['one'], Buffer.alloc(2 * MiB));
    await fs.writeFile(['two'], Buffer.alloc(MiB + MiB / 2));
    expect(await codeOfRejection(fs.writeFile(['three'], Buffer.alloc(MiB)))).toBe('SESSION_WORKSPACE_FULL');
    expect((await readdir(s.ws)).sort()).toEqual(['one', 'two']);
  });

  // chown needs root (the daemon is root); CI runs as root
  it.skipIf(process.getuid?.() !== 0 && process.env.CI !== 'true')(
    'gives what it makes to the configured owner (root)',
    async () => {
      const owned = new WorkspaceFs(s.ws, {
        maxFileBytes: MiB,
        maxTotalBytes: MiB,
        owner: { uid: 4242, gid: 4343 },
      });
      await owned.writeFile(['d', 'f'], Buffer.from('x'));
      for (const p of ['d', 'd/f']) {
        const st = await stat(path.join(s.ws, p));
        expect([st.uid, st.gid], p).toEqual([4242, 4343]);
      }
    },
  );

  it('never writes outside while the sandbox swaps a folder for a link to the outside', async () => {
    await mkdir(path.join(s.ws, 'race'));
    // A separate process swaps ws/race between a real folder and a link to outside/, atomically, as fast as it can.
    const swapper = spawn('python3', [
      '-c',
      `
import os, shutil, sys
ws, outside = sys.argv[1], sys.argv[2]
race, gone = ws + '/race', ws + '/gone'
def quietly(fn, *args):
    try:
        fn(*args)
    except OSError:
        pass
while True:
    quietly(os.rename, race, gone)          # whatever is there (folder or link) goes
    quietly(os.unlink, gone)
    shutil.rmtree(gone, ignore_errors=True)
    quietly(os.symlink, outside, race)     # a link to the outside takes its name
    quietly(os.rename, race, gone)
    quietly(os.unlink, gone)
    quietly(os.mkdir, race)                # then a real folder again
`,
      s.ws,
      s.outside,
    ]);
    try {
      const outcomes = new Map<string, number>();
      const until = Date.now() + 1500;
      let n = 0;
      while (Date.now() < until) {
        const name = `f${n++}`;
        for (const op of [
          () => fs.writeFile(['race', name], Buffer.from('planted')),
          () => fs.mkdirs(['race', `${name}.d`]),
          () => fs.list(['race']),
          () => fs.remove(['race', name], false),
        ]) {
          const code = (await codeOfRejection(op())) ?? 'ok';
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
        }
      }
      expect(n).toBeGreaterThan(20);
      // the race was on: some operations met the link (refused), some the folder (done)
      expect(outcomes.get('SESSION_PATH_ESCAPE') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(0);
      expect(outcomes.get('ok') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(0);
      for (const code of outcomes.keys())
        expect(code).toMatch(/^(ok|SESSION_PATH_ESCAPE|SESSION_PATH_NOT_FOUND|SESSION_PATH_NOT_DIR)$/);
    } finally {
      swapper.kill('SIGKILL');
    }
    await outsideUntouched();
  });
});
