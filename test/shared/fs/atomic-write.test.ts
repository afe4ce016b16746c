import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishDir, publishFile, writeFileAtomic, writeJsonAtomic } from '../../../src/shared/fs/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'aibox-fs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('applies the mode whatever the umask, and the owner', async () => {
    const file = path.join(dir, 'a.json');
    await writeFileAtomic(file, 'x', { mode: 0o640 });
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    // 0o666 would lose its group/other write bits under the usual 022 umask without the explicit chmod.
    await writeFileAtomic(file, 'y', { mode: 0o666 });
    expect((await stat(file)).mode & 0o777).toBe(0o666);
    await writeFileAtomic(file, 'z', { mode: 0o600 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Root can give the file away (the daemon does, to the rootless Podman user); others can only name themselves.
    const uid = process.getuid?.() === 0 ? 65534 : process.getuid!();
    const gid = process.getuid?.() === 0 ? 65534 : process.getgid!();
    await writeFileAtomic(file, 'w', { mode: 0o600, owner: { uid, gid } });
    const info = await stat(file);
    expect([info.uid, info.gid]).toEqual([uid, gid]);
    expect(await readFile(file, 'utf8')).toBe('w');
  });

  it('creates missing folders only when asked, with the given mode', async () => {
    const file = path.join(dir, 'deep', 'er', 'a.json');
    await expect(writeFileAtomic(file, 'x', { mode: 0o600 })).rejects.toMatchObject({ code: 'ENOENT' });
    await writeJsonAtomic(file, { a: 1 }, { mode: 0o600, mkdirMode: 0o700 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ a: 1 });
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
  });

  it('leaves the old content and no temporary file when the write fails', async () => {
    const file = path.join(dir, 'state.json');
    await writeFile(file, 'old');
    // Writing a string that is not a string fails inside the write, after the temporary file exists.
    await expect(writeFileAtomic(file, 42 as unknown as string, { mode: 0o600 })).rejects.toThrow();
    // An owner the kernel refuses (non-root) or a rename onto a folder fail at the other steps.
    await mkdir(path.join(dir, 'folder'));
    await expect(writeFileAtomic(path.join(dir, 'folder'), 'new', { mode: 0o600 })).rejects.toMatchObject({
      code: 'EISDIR',
    });
    expect(await readFile(file, 'utf8')).toBe('old');
    expect((await readdir(dir)).sort()).toEqual(['folder', 'state.json']);
  });

  it('never writes through a planted temporary name (O_EXCL, O_NOFOLLOW): each writer gets its own file', async () => {
    const file = path.join(dir, 'state.json');
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        writeJsonAtomic(file, { writer: i, pad: 'x'.repeat(5000) }, { mode: 0o600 }),
      ),
    );
    const last = JSON.parse(await readFile(file, 'utf8')) as { writer: number };
    expect(last.writer).toBeGreaterThanOrEqual(0);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('survives kill -9 at any moment: the file always holds one complete version', async () => {
    const file = path.join(dir, 'state.json');
    await writeJsonAtomic(file, { v: -1, pad: '' }, { mode: 0o600 });
    const kit = path.resolve('src/shared/fs/index.ts');
    // A writer that rewrites a 4 MB document as fast as it can, killed without warning.
    const script = `
      const { writeJsonAtomic } = await import(${JSON.stringify(kit)});
      const pad = 'y'.repeat(1 << 22);
      for (let v = 0; ; v++) {
        await writeJsonAtomic(${JSON.stringify(file)}, { v, pad }, { mode: 0o600 });
        if (v === 0) process.stdout.write('ready\\n');
      }
    `;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 5 + round * 17));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const doc = JSON.parse(await readFile(file, 'utf8')) as { v: number; pad: string };
      expect(doc.pad.length === 0 || doc.pad.length === 1 << 22).toBe(true);
      expect(doc.v).toBeGreaterThanOrEqual(-1);
    }
    // The killed writers may leave their temporary files (never under the real name); nothing else.
    for (const name of await readdir(dir))
      expect(name === 'state.json' || /^\.state\.json\.[0-9a-f]+\.tmp$/.test(name)).toBe(true);
  }, 30_000);
});

describe('publishFile', () => {
  it('moves a finished file into place', async () => {
    await writeFile(path.join(dir, 'out.partial'), 'tarball');
    await publishFile(path.join(dir, 'out.partial'), path.join(dir, 'out'));
    expect(await readdir(dir)).toEqual(['out']);
    expect(await readFile(path.join(dir, 'out'), 'utf8')).toBe('tarball');
  });

  it('moves a finished folder into place, and refuses a taken name', async () => {
    await mkdir(path.join(dir, 'tree.partial', 'bin'), { recursive: true });
    await writeFile(path.join(dir, 'tree.partial', 'bin', 'tool'), '#!/bin/sh\n');
    await publishDir(path.join(dir, 'tree.partial'), path.join(dir, 'tree'));
    expect(await readFile(path.join(dir, 'tree', 'bin', 'tool'), 'utf8')).toBe('#!/bin/sh\n');
    await mkdir(path.join(dir, 'other', 'x'), { recursive: true });
    await expect(publishDir(path.join(dir, 'other'), path.join(dir, 'tree'))).rejects.toMatchObject({
      code: expect.stringMatching(/^(ENOTEMPTY|EEXIST)$/),
    });
  });
});
