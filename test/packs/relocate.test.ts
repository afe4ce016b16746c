import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { relocateClass, relocateJar } from '../../src/packs/relocate.js';
import { entryData, makeZip, readZip } from '../../src/shared/zip.js';

/** A minimal class file: magic, version, a constant pool of the given Utf8 strings around a long, then a tail. */
function classWith(strings: string[]): Buffer {
  const pool: Buffer[] = [];
  let slots = 1;
  for (const s of strings) {
    const b = Buffer.from(s, 'latin1');
    const h = Buffer.alloc(3);
    h[0] = 1;
    h.writeUInt16BE(b.length, 1);
    pool.push(h, b);
    slots++;
  }
  // A long (tag 5) takes two slots: the parser must not read its second slot as a constant.
  pool.push(Buffer.from([5, 0, 0, 0, 0, 0, 0, 0, 7]));
  slots += 2;
  pool.push(Buffer.from([7, 0, 1])); // a class constant naming #1
  slots++;
  const head = Buffer.alloc(10);
  head.writeUInt32BE(0xcafebabe, 0);
  head.writeUInt16BE(61, 6);
  head.writeUInt16BE(slots, 8);
  return Buffer.concat([head, ...pool, Buffer.from('TAIL')]);
}

function utf8s(cls: Buffer): string[] {
  const out: string[] = [];
  let at = 10;
  const n = cls.readUInt16BE(8);
  for (let k = 1; k < n; k++) {
    const tag = cls[at]!;
    if (tag === 1) {
      const len = cls.readUInt16BE(at + 1);
      out.push(cls.subarray(at + 3, at + 3 + len).toString('latin1'));
      at += 3 + len;
    } else if (tag === 5) {
      at += 9;
      k++;
    } else at += 3;
  }
  return out;
}

describe('relocating hard-coded paths in Java classes', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('prefixes exact and sub-path constants only, keeping the rest of the class byte for byte', () => {
    const cls = classWith(['/usr/share/java', '/usr/share/gradle/lib', '/usr/share/javadoc', 'lib']);
    const r = relocateClass(cls, ['/usr/share/java', '/usr/share/gradle'], '/opt/aibox/packs/gradle');
    expect(r.changed).toBe(2);
    expect(utf8s(r.data)).toEqual([
      '/opt/aibox/packs/gradle/usr/share/java',
      '/opt/aibox/packs/gradle/usr/share/gradle/lib',
      '/usr/share/javadoc',
      'lib',
    ]);
    expect(r.data.subarray(-13).equals(cls.subarray(-13))).toBe(true); // the long, the class constant, the tail
  });

  it('leaves a class without those paths untouched and refuses what is not a class', () => {
    const cls = classWith(['lib']);
    expect(relocateClass(cls, ['/usr/share/java'], '/p')).toEqual({ data: cls, changed: 0 });
    expect(() => relocateClass(Buffer.from('not a class at all'), ['/x'], '/p')).toThrow('not a class file');
    expect(() => relocateClass(cls.subarray(0, 14), ['/x'], '/p')).toThrow('truncated');
  });

  it('rewrites only the jar entries that change; the result is a valid zip for an independent reader', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-relocate-'));
    dirs.push(dir);
    const jar = path.join(dir, 'demo.jar');
    const other = Buffer.from('Manifest-Version: 1.0\n');
    await writeFile(
      jar,
      makeZip({
        'META-INF/MANIFEST.MF': other,
        'a/Home.class': classWith(['/usr/share/gradle']),
        'a/Plain.class': classWith(['x']),
      }),
    );
    expect(await relocateJar(jar, ['/usr/share/gradle'], '/opt/p')).toBe(1);
    const entries = readZip(await readFile(jar));
    expect(entries.map((e) => e.name)).toEqual(['META-INF/MANIFEST.MF', 'a/Home.class', 'a/Plain.class']);
    expect(utf8s(entryData(entries[1]!))).toEqual(['/opt/p/usr/share/gradle']);
    expect(entryData(entries[0]!).equals(other)).toBe(true);
    // Python's zipfile checks every CRC and size.
    const listed = execFileSync('python3', [
      '-c',
      'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.read("a/Home.class")))',
      jar,
    ]).toString();
    expect(Number(listed)).toBe(entryData(entries[1]!).length);
    // Nothing left to change: the jar is not written again.
    const before = await readFile(jar);
    expect(await relocateJar(jar, ['/usr/share/gradle'], '/opt/p')).toBe(0);
    expect((await readFile(jar)).equals(before)).toBe(true);
  });

  it('refuses a zip whose central directory points outside the file', () => {
    const zip = makeZip({ 'a.class': classWith(['x']) }, { store: true });
    const broken = Buffer.from(zip);
    broken.writeUInt32LE(0x7fffffff, broken.length - 6); // central directory offset
    expect(() => readZip(broken)).toThrow(/out of bounds/);
  });
});
