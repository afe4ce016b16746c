import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { entryData, readZip, writeZip } from '../shared/zip.js';

/**
 * Relocating hard-coded absolute paths in Java class files. Debian patches some Java programs to find their files at
 * fixed system paths (Gradle: its jars in /usr/share/java, its home in /usr/share/gradle); a pack lives under
 * /opt/aibox/packs/NAME, so those string constants are rewritten to the pack's place at build time. Only a
 * CONSTANT_Utf8 equal to a listed path, or starting with it and "/", changes: the constant pool is addressed by
 * index, never by byte offset, so a longer string keeps the class valid.
 */

const CLASS_MAGIC = 0xcafebabe;
/** Constant pool entry sizes after the tag byte (JVMS 4.4), Utf8 (1) excepted. */
const CONSTANT_SIZES: Record<number, number> = {
  3: 4,
  4: 4,
  5: 8,
  6: 8,
  7: 2,
  8: 2,
  9: 4,
  10: 4,
  11: 4,
  12: 4,
  15: 3,
  16: 2,
  17: 4,
  18: 4,
  19: 2,
  20: 2,
};

/** The class with every matching Utf8 constant prefixed, and how many changed; throws on a malformed class. */
export function relocateClass(
  data: Buffer,
  paths: string[],
  prefix: string,
): { data: Buffer; changed: number } {
  const need = (at: number, n: number) => {
    if (at + n > data.length) throw new Error('truncated class file');
  };
  need(0, 10);
  if (data.readUInt32BE(0) !== CLASS_MAGIC) throw new Error('not a class file');
  const count = data.readUInt16BE(8);
  const parts: Buffer[] = [data.subarray(0, 10)];
  let at = 10;
  let changed = 0;
  for (let k = 1; k < count; k++) {
    need(at, 1);
    const tag = data[at]!;
    if (tag === 1) {
      need(at, 3);
      const len = data.readUInt16BE(at + 1);
      need(at + 3, len);
      // Modified UTF-8; the paths we look for are ASCII, so a byte comparison is exact.
      const raw = data.subarray(at + 3, at + 3 + len);
      const text = raw.toString('latin1');
      const hit = paths.find((p) => text === p || text.startsWith(`${p}/`));
      if (hit) {
        const next = Buffer.from(`${prefix}${text}`, 'latin1');
        if (next.length > 0xffff) throw new Error('relocated constant too long');
        const head = Buffer.alloc(3);
        head[0] = 1;
        head.writeUInt16BE(next.length, 1);
        parts.push(head, next);
        changed++;
      } else parts.push(data.subarray(at, at + 3 + len));
      at += 3 + len;
      continue;
    }
    const size = CONSTANT_SIZES[tag];
    if (size === undefined) throw new Error(`unknown constant pool tag ${tag}`);
    need(at, 1 + size);
    parts.push(data.subarray(at, at + 1 + size));
    at += 1 + size;
    // Long and double take two slots.
    if (tag === 5 || tag === 6) k++;
  }
  if (changed === 0) return { data, changed: 0 };
  parts.push(data.subarray(at));
  return { data: Buffer.concat(parts), changed };
}

/** Rewrites the listed paths in every class of one jar; the jar is replaced only when something changed. */
export async function relocateJar(file: string, paths: string[], prefix: string): Promise<number> {
  const entries = readZip(await readFile(file));
  const replaced = new Map<string, Buffer>();
  let changed = 0;
  for (const e of entries) {
    if (!e.name.endsWith('.class')) continue;
    const r = relocateClass(entryData(e), paths, prefix);
    if (r.changed > 0) {
      replaced.set(e.name, r.data);
      changed += r.changed;
    }
  }
  if (changed === 0) return 0;
  const tmp = `${file}.relocating`;
  await writeFile(tmp, writeZip(entries, replaced));
  await rename(tmp, file).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
  return changed;
}

/** Jars of the unpacked tree whose path (relative to `root`) matches one of the patterns (`*` within one name). */
export async function matchingJars(root: string, patterns: string[]): Promise<string[]> {
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*')}$`,
      ),
  );
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && res.some((r) => r.test(path.relative(root, p)))) out.push(p);
    }
  };
  await walk(root);
  return out.sort();
}
