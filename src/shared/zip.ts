import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * Zip archives (jars, Go module zips) held in memory: read with bounds checks (no zip64, no encryption, stored or
 * deflated entries only), and written back with chosen entries replaced.
 */

export interface ZipEntry {
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
  // Bounded by the declared size: a deflated entry that lies about it cannot inflate without limit.
  const data =
    e.method === 0 ? e.compressed : inflateRawSync(e.compressed, { maxOutputLength: Math.max(e.size, 1) });
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
