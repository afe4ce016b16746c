import { createHash } from 'node:crypto';
import { entryData, readZip } from '../shared/zip.js';

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

/**
 * The entries of a Go module zip with their contents, refused whole when their declared sizes add up to more than
 * `maxBytes` (checked before anything is inflated).
 */
export function zipEntries(zip: Buffer, maxBytes: number): { name: string; data: Buffer }[] {
  const entries = readZip(zip);
  let total = 0;
  for (const e of entries) {
    total += e.size;
    if (total > maxBytes) throw new Error(`its files are larger than ${maxBytes} bytes`);
  }
  return entries.map((e) => ({ name: e.name, data: entryData(e) }));
}
