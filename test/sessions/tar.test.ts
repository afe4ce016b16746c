import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkspaceFs, extractTar, packTar, entrySegments } from '../../src/sessions/index.js';
import { codeOfRejection, codeOfThrow, makeTar, readTar, scratch, type TarItem } from './helpers.js';

const MiB = 1024 * 1024;

describe('tar upload and download', () => {
  let s: Awaited<ReturnType<typeof scratch>>;
  let fs: WorkspaceFs;
  const caps = { maxEntries: 100 };
  const extract = (tar: Buffer, dest: string[] = [], budget = { remaining: 8 * MiB }) =>
    extractTar(Readable.from([tar]), fs, dest, caps, budget);

  beforeEach(async () => {
    s = await scratch();
    await writeFile(path.join(s.outside, 'secret.txt'), 'host secret');
    fs = new WorkspaceFs(s.ws, { maxFileBytes: 2 * MiB, maxTotalBytes: 8 * MiB });
  });
  afterEach(async () => s.done());

  const outsideUntouched = async () => {
    expect((await readdir(s.outside)).sort()).toEqual(['secret.txt']);
    expect(await readFile(path.join(s.outside, 'secret.txt'), 'utf8')).toBe('host secret');
  };

  it('extracts files and folders (binary, nested, modes) and packs them back identically', async () => {
    const bin = randomBytes(1_500_000);
    const tar = await makeTar([
      { name: 'src/', type: 'directory' },
      { name: 'src/main.py', data: 'print("hi")\n', mode: 0o755 },
      { name: './src/deep/er/x.bin', data: bin },
      { name: 'empty', data: '' },
    ]);
    expect(await extract(tar, ['up'])).toEqual({ files: 3, directories: 1, bytes: bin.length + 12 });
    expect((await readFile(path.join(s.ws, 'up/src/deep/er/x.bin'))).equals(bin)).toBe(true);
    const back = await readTar(await packTar(fs, ['up']));
    expect([...back.keys()].sort()).toEqual([
      'empty',
      'src/',
      'src/deep/',
      'src/deep/er/',
      'src/deep/er/x.bin',
      'src/main.py',
    ]);
    expect(back.get('src/deep/er/x.bin')?.data.equals(bin)).toBe(true);
    expect(back.get('src/main.py')?.data.toString()).toBe('print("hi")\n');
  });

  const hostile: [string, TarItem[]][] = [
    ['a .. entry', [{ name: '../escaped.txt', data: 'x' }]],
    ['a nested .. entry', [{ name: 'a/../../escaped.txt', data: 'x' }]],
    ['an absolute entry', [{ name: '/tmp/escaped.txt', data: 'x' }]],
    ['a symlink entry', [{ name: 'link', type: 'symlink', linkname: '/etc' }]],
    [
      'a symlink then a file through it',
      [
        { name: 'out', type: 'symlink', linkname: '../outside' },
        { name: 'out/secret.txt', data: 'overwritten' },
      ],
    ],
    ['a hard link entry', [{ name: 'hard', type: 'link', linkname: '../outside/secret.txt' }]],
    ['a FIFO entry', [{ name: 'fifo', type: 'fifo' }]],
    ['a device entry', [{ name: 'dev', type: 'character-device' }]],
  ];
  for (const [what, items] of hostile) {
    it(`refuses ${what} with SESSION_TAR_ENTRY_REFUSED, writing nothing outside`, async () => {
      expect(await codeOfRejection(extract(await makeTar(items), ['d']))).toBe('SESSION_TAR_ENTRY_REFUSED');
      await outsideUntouched();
      expect(await readdir(s.base)).toEqual(['outside', 'ws']);
    });
  }

  it('does not follow a link the sandbox planted where a tar entry goes', async () => {
    await symlink(s.outside, path.join(s.ws, 'planted'));
    const tar = await makeTar([{ name: 'planted/secret.txt', data: 'overwritten' }]);
    expect(await codeOfRejection(extract(tar))).toBe('SESSION_PATH_ESCAPE');
    await mkdir(path.join(s.ws, 'real'));
    await symlink(s.outside, path.join(s.ws, 'real', 'inner'));
    expect(await codeOfRejection(extract(await makeTar([{ name: 'inner/x', data: 'x' }]), ['real']))).toBe(
      'SESSION_PATH_ESCAPE',
    );
    await outsideUntouched();
  });

  it('refuses garbage and truncated streams with SESSION_TAR_INVALID', async () => {
    expect(await codeOfRejection(extract(randomBytes(4096)))).toBe('SESSION_TAR_INVALID');
    const tar = await makeTar([{ name: 'a', data: randomBytes(10_000) }]);
    expect(await codeOfRejection(extract(tar.subarray(0, 3000)))).toBe('SESSION_TAR_INVALID');
  });

  it('caps entries, one file and the whole upload', async () => {
    const many = await makeTar(Array.from({ length: 101 }, (_, i) => ({ name: `f${i}`, data: 'x' })));
    expect(await codeOfRejection(extract(many))).toBe('SESSION_TAR_ENTRY_REFUSED');
    const big = await makeTar([{ name: 'big', data: Buffer.alloc(2 * MiB + 1) }]);
    expect(await codeOfRejection(extract(big, ['b']))).toBe('SESSION_FILE_TOO_LARGE');
    const over = await makeTar([
      { name: 'a', data: Buffer.alloc(MiB) },
      { name: 'b', data: Buffer.alloc(MiB) },
    ]);
    expect(await codeOfRejection(extract(over, ['c'], { remaining: MiB + 10 }))).toBe(
      'SESSION_WORKSPACE_FULL',
    );
    // all or nothing: no refused upload left a file, a folder or its staging folder behind
    expect(await readdir(s.ws)).toEqual([]);
  });

  it('extracts all or nothing: a tar refused part-way leaves the destination as it was', async () => {
    await mkdir(path.join(s.ws, 'd', 'keep'), { recursive: true });
    await writeFile(path.join(s.ws, 'd', 'keep', 'old.txt'), 'old');
    const tar = await makeTar([
      { name: 'new1.txt', data: 'first' },
      { name: 'keep/old.txt', data: 'replaced' },
      { name: 'sub/new2.txt', data: 'second' },
      { name: 'bad', type: 'symlink', linkname: '/etc/passwd' },
    ]);
    expect(await codeOfRejection(extract(tar, ['d']))).toBe('SESSION_TAR_ENTRY_REFUSED');
    expect((await readdir(s.ws)).sort()).toEqual(['d']);
    expect((await readdir(path.join(s.ws, 'd'))).sort()).toEqual(['keep']);
    expect(await readFile(path.join(s.ws, 'd', 'keep', 'old.txt'), 'utf8')).toBe('old');
    // a truncated stream: the same
    const good = await makeTar([
      { name: 'x.txt', data: 'x' },
      { name: 'y.bin', data: randomBytes(20_000) },
    ]);
    expect(await codeOfRejection(extract(good.subarray(0, 5000), ['d']))).toBe('SESSION_TAR_INVALID');
    expect((await readdir(path.join(s.ws, 'd'))).sort()).toEqual(['keep']);
    expect((await readdir(s.ws)).sort()).toEqual(['d']);
  });

  it('merges an accepted tar into an existing folder, refusing a conflict before moving anything', async () => {
    await mkdir(path.join(s.ws, 'd', 'keep'), { recursive: true });
    await writeFile(path.join(s.ws, 'd', 'keep', 'old.txt'), 'old');
    await writeFile(path.join(s.ws, 'd', 'keep', 'other.txt'), 'other');
    await mkdir(path.join(s.ws, 'd', 'folder'));
    const conflict = await makeTar([
      { name: 'keep/old.txt', data: 'replaced' },
      { name: 'folder', data: 'a file where a folder is' },
    ]);
    expect(await codeOfRejection(extract(conflict, ['d']))).toBe('SESSION_PATH_NOT_FILE');
    expect(await readFile(path.join(s.ws, 'd', 'keep', 'old.txt'), 'utf8')).toBe('old');
    const report = await extract(
      await makeTar([
        { name: 'keep/old.txt', data: 'replaced' },
        { name: 'keep/new/deep.txt', data: 'deep' },
        { name: 'top.txt', data: 'top' },
      ]),
      ['d'],
    );
    expect(report).toMatchObject({ files: 3 });
    expect(await readFile(path.join(s.ws, 'd', 'keep', 'old.txt'), 'utf8')).toBe('replaced');
    expect(await readFile(path.join(s.ws, 'd', 'keep', 'other.txt'), 'utf8')).toBe('other');
    expect(await readFile(path.join(s.ws, 'd', 'keep', 'new', 'deep.txt'), 'utf8')).toBe('deep');
    expect((await readdir(path.join(s.ws, 'd'))).sort()).toEqual(['folder', 'keep', 'top.txt']);
    expect((await readdir(s.ws)).sort()).toEqual(['d']);
  });

  it('leaves links and special files out of downloads', async () => {
    await writeFile(path.join(s.ws, 'real.txt'), 'real');
    await symlink(path.join(s.outside, 'secret.txt'), path.join(s.ws, 'leak.txt'));
    await symlink(s.outside, path.join(s.ws, 'leakdir'));
    const back = await readTar(await packTar(fs, []));
    expect([...back.keys()]).toEqual(['real.txt']);
  });

  it('refuses a download of a link, a file or nothing before streaming', async () => {
    await symlink(s.outside, path.join(s.ws, 'leakdir'));
    expect(await codeOfRejection(packTar(fs, ['leakdir']))).toBe('SESSION_PATH_ESCAPE');
    await mkdir(path.join(s.ws, 'dir'));
    await writeFile(path.join(s.ws, 'dir', 'f'), 'x');
    expect(await codeOfRejection(packTar(fs, ['dir', 'f']))).toBe('SESSION_PATH_NOT_DIR');
    expect(await codeOfRejection(packTar(fs, ['nope']))).toBe('SESSION_PATH_NOT_FOUND');
  });
});

describe('entrySegments', () => {
  it('normalises harmless names and refuses the rest', () => {
    expect(entrySegments('./a/b/')).toEqual(['a', 'b']);
    expect(entrySegments('a//b')).toEqual(['a', 'b']);
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/..', 'a\0b', 'a\nb']) {
      expect(
        codeOfThrow(() => entrySegments(bad)),
        bad,
      ).toBe('SESSION_TAR_ENTRY_REFUSED');
    }
  });
});
