import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';

/**
 * Go's "h1:" hash (golang.org/x/mod/sumdb/dirhash Hash1), which the checksum database records for every module
 * version: sha256 over the sorted lines "<sha256 hex of the file>  <name>\n", base64. A .zip is hashed over its
 * entries' names and contents; a go.mod alone as the one file "go.mod".
 */
export function hash1(files: { name: string; data: Buffer }[]): string {
  const lines = files
    .map((f) => {
      if (f.name.includes('\n')) throw new Error(`a file name holds a newline: ${JSON.stringify(f.name)}`);
      return { name: f.name, line: `${createHash('sha256').update(f.data).digest('hex')}  ${f.name}\n` };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sum = createHash('sha256');
  for (const l of lines) sum.update(l.line);
  return `h1:${sum.digest('base64')}`;
}

export function hashGoMod(data: Buffer): string {
  return hash1([{ name: 'go.mod', data }]);
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * The entries of a zip held in memory (stored or deflated; no zip64, no encryption: Go module zips are neither).
 * Sizes are checked against the central directory: a zip that lies about them is refused, not half read.
 */
export function zipEntries(zip: Buffer, maxBytes: number): { name: string; data: Buffer }[] {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff) throw new Error('zip64 is not supported');
  const out: { name: string; data: Buffer }[] = [];
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) throw new Error('bad central directory');
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const csize = zip.readUInt32LE(at + 20);
    const usize = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    at += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) throw new Error(`${name}: encrypted`);
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== LOCAL)
      throw new Error(`${name}: bad local header`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    if (start + csize > zip.length) throw new Error(`${name}: truncated`);
    total += usize;
    if (total > maxBytes) throw new Error(`its files are larger than ${maxBytes} bytes`);
    const raw = zip.subarray(start, start + csize);
    let data: Buffer;
    if (method === 0) data = raw;
    else if (method === 8) data = inflateRawSync(raw, { maxOutputLength: Math.max(usize, 1) });
    else throw new Error(`${name}: compression method ${method} is not supported`);
    if (data.length !== usize) throw new Error(`${name}: its size is not the one the zip declares`);
    out.push({ name, data });
  }
  return out;
}
