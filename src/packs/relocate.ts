import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

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

interface ZipEntry {
  name: string;
  /** The central directory record as read (fields rewritten on output). */
  central: Buffer;
  method: number;
  crc: number;
  compressed: Buffer;
  size: number;
  /** The local header's extra field. */
  localExtra: Buffer;
}

/** Reads a zip (jar) archive's entries with their compressed data; no zip64, no encryption, bounds-checked. */
export function readZip(zip: Buffer): ZipEntry[] {
  const minEocd = 22;
  let eocd = -1;
  for (let i = zip.length - minEocd; i >= Math.max(0, zip.length - minEocd - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  let at = zip.readUInt32LE(eocd + 16);
  if (at + cdSize > eocd) throw new Error('central directory out of bounds');
  const out: ZipEntry[] = [];
  for (let n = 0; n < entries; n++) {
    if (at + 46 > eocd || zip.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory entry');
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const csize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const end = at + 46 + nameLen + extraLen + commentLen;
    if (end > eocd) throw new Error('central directory entry out of bounds');
    if (csize === 0xffffffff || size === 0xffffffff || local === 0xffffffff) throw new Error('zip64 archive');
    if (flags & 1) throw new Error('encrypted entry');
    if (method !== 0 && method !== 8) throw new Error(`compression method ${method}`);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== 0x04034b50)
      throw new Error(`bad local header: ${name}`);
    const lName = zip.readUInt16LE(local + 26);
    const lExtra = zip.readUInt16LE(local + 28);
    const dataAt = local + 30 + lName + lExtra;
    if (dataAt + csize > zip.length) throw new Error(`entry out of bounds: ${name}`);
    out.push({
      name,
      central: zip.subarray(at, end),
      method,
      crc,
      size,
      compressed: zip.subarray(dataAt, dataAt + csize),
      localExtra: zip.subarray(local + 30 + lName, dataAt),
    });
    at = end;
  }
  return out;
}

/** The entry's uncompressed content. */
export function entryData(e: ZipEntry): Buffer {
  const data = e.method === 0 ? e.compressed : inflateRawSync(e.compressed);
  if (data.length !== e.size) throw new Error(`size mismatch: ${e.name}`);
  return data;
}

/** Writes entries back (order, names, times, attributes kept); `replaced` entries are deflated anew. */
export function writeZip(entries: ZipEntry[], replaced: Map<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const fresh = replaced.get(e.name);
    const method = fresh ? 8 : e.method;
    const compressed = fresh ? deflateRawSync(fresh) : e.compressed;
    const crc = fresh ? crc32(fresh) : e.crc;
    const size = fresh ? fresh.length : e.size;
    const name = e.central.subarray(46, 46 + e.central.readUInt16LE(28));
    const c = Buffer.from(e.central);
    // No data descriptor: sizes and CRC go in the headers.
    const flags = c.readUInt16LE(8) & ~0x8;
    c.writeUInt16LE(flags, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(compressed.length, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt32LE(offset, 42);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(c.readUInt16LE(6), 4); // version needed
    h.writeUInt16LE(flags, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(c.readUInt16LE(12), 10); // time
    h.writeUInt16LE(c.readUInt16LE(14), 12); // date
    h.writeUInt32LE(crc >>> 0, 14);
    h.writeUInt32LE(compressed.length, 18);
    h.writeUInt32LE(size, 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(e.localExtra.length, 28);
    locals.push(h, name, e.localExtra, compressed);
    offset += h.length + name.length + e.localExtra.length + compressed.length;
    centrals.push(c);
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Builds a zip from scratch (name -> content), for tests and small archives. */
export function makeZip(files: Record<string, Buffer>, opts: { store?: boolean } = {}): Buffer {
  const entries: ZipEntry[] = Object.entries(files).map(([name, data]) => {
    const n = Buffer.from(name, 'utf8');
    const central = Buffer.alloc(46 + n.length);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x21, 14); // 1980-01-01
    central.writeUInt16LE(n.length, 28);
    n.copy(central, 46);
    return {
      name,
      central,
      method: 0,
      crc: crc32(data),
      size: data.length,
      compressed: data,
      localExtra: Buffer.alloc(0),
    };
  });
  const replaced = opts.store ? new Map<string, Buffer>() : new Map(Object.entries(files));
  return writeZip(entries, replaced);
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
