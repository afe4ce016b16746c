import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expand, type PackVersionSpec } from './manifest.js';

/**
 * Writes a manifest's `files` into the unpacked tree (e.g. a launcher in place of a Debian script), `${prefix}`
 * expanded. Unpacked archives hold links: every folder on the way must be a real folder (made when missing), and a
 * link at the file's own place is replaced, never followed, so nothing is written outside the pack.
 */
export async function writePackFiles(
  root: string,
  prefix: string,
  files: PackVersionSpec['files'],
): Promise<void> {
  for (const f of files) {
    const parts = f.path.split('/');
    let folder = root;
    for (const part of parts.slice(0, -1)) {
      folder = path.join(folder, part);
      const st = await lstat(folder).catch(() => undefined);
      if (!st) await mkdir(folder, { mode: 0o755 });
      else if (!st.isDirectory())
        throw new Error(`${f.path}: ${path.relative(root, folder)} is not a folder`);
    }
    const dest = path.join(folder, parts.at(-1)!);
    const there = await lstat(dest).catch(() => undefined);
    if (there?.isDirectory()) throw new Error(`${f.path} is a folder in the pack`);
    if (there) await rm(dest);
    await writeFile(dest, expand(f.content, prefix), { flag: 'wx', mode: f.executable ? 0o755 : 0o644 });
  }
}
