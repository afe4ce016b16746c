import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, type ReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../shared/index.js';
import { packageCacheErrors } from './errors.js';

/** Digests a registry declares for a file; at least one must be given, every one given must match. */
export interface ExpectedDigests {
  sha512?: string;
  sha256?: string;
  sha1?: string;
}

type Algorithm = keyof ExpectedDigests;

interface Entry {
  size: number;
  used: number;
}

export interface ContentStoreOptions {
  dir: string;
  maxBytes: number;
  maxFileBytes: number;
  logger: Logger;
  now?: () => number;
}

/**
 * The cache's files on the host: verified content under its sha512 (blobs/), and metadata the daemon fetched itself
 * (meta/, under a hash of its key). Only the daemon (root) reads or writes the folder (0700, files 0444): no sandbox
 * mounts it, sandboxes get bytes over HTTP. Content is written to tmp/, hashed while it streams, and only renamed
 * into blobs/ once every declared digest matched: a file is never shared before it is verified. Above the size cap
 * the least recently used files go first.
 */
export class ContentStore {
  private readonly index = new Map<string, Entry>();
  private total = 0;
  private readonly now: () => number;

  constructor(private readonly o: ContentStoreOptions) {
    this.now = o.now ?? Date.now;
  }

  async init(): Promise<void> {
    try {
      for (const sub of ['', 'blobs', 'meta', 'tmp']) {
        await mkdir(path.join(this.o.dir, sub), { recursive: true, mode: 0o700 });
        await chmod(path.join(this.o.dir, sub), 0o700);
      }
      // Half-written files of a previous life are never shared.
      await rm(path.join(this.o.dir, 'tmp'), { recursive: true, force: true });
      await mkdir(path.join(this.o.dir, 'tmp'), { mode: 0o700 });
      for (const sub of ['blobs', 'meta']) {
        for (const name of await readdir(path.join(this.o.dir, sub))) {
          const rel = `${sub}/${name}`;
          const st = await stat(path.join(this.o.dir, rel));
          if (!st.isFile()) continue;
          this.index.set(rel, { size: st.size, used: st.mtimeMs });
          this.total += st.size;
        }
      }
    } catch (err) {
      throw packageCacheErrors.create(
        'PACKAGE_CACHE_START_FAILED',
        `the package cache cannot use ${this.o.dir}: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
  }

  get sizeBytes(): number {
    return this.total;
  }

  /** The verified blob of a sha512 (hex), opened for reading, or undefined. Counts as a use. */
  async openBlob(sha512: string): Promise<{ stream: ReadStream; size: number } | undefined> {
    if (!/^[0-9a-f]{128}$/.test(sha512)) return undefined;
    const rel = `blobs/${sha512}`;
    const entry = this.index.get(rel);
    if (!entry) return undefined;
    const file = path.join(this.o.dir, rel);
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
    if (!handle) {
      this.forget(rel);
      return undefined;
    }
    this.use(rel, entry);
    return { stream: createReadStream('', { fd: handle, autoClose: true }), size: entry.size };
  }

  async hasBlob(sha512: string): Promise<boolean> {
    const rel = `blobs/${sha512}`;
    if (!this.index.has(rel)) return false;
    if (await exists(path.join(this.o.dir, rel))) return true;
    this.forget(rel);
    return false;
  }

  /**
   * Streams `body` into the store, hashing it; refuses it (PACKAGE_CACHE_INTEGRITY_MISMATCH, nothing kept) unless
   * every expected digest matches, and refuses it past the file size limit. Returns the sha512 it is kept under.
   */
  async ingest(
    body: AsyncIterable<Uint8Array>,
    expected: ExpectedDigests,
    label: string,
  ): Promise<{ sha512: string; size: number }> {
    const algorithms = (Object.keys(expected) as Algorithm[]).filter((a) => expected[a]);
    if (algorithms.length === 0) {
      throw packageCacheErrors.create(
        'PACKAGE_CACHE_INTEGRITY_MISMATCH',
        `${label}: the registry declares no digest for it, so it cannot be verified; nothing was cached`,
      );
    }
    const hashes = new Map<Algorithm, ReturnType<typeof createHash>>();
    for (const a of new Set<Algorithm>(['sha512', ...algorithms])) hashes.set(a, createHash(a));
    const tmp = path.join(this.o.dir, 'tmp', randomBytes(12).toString('hex'));
    const handle = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    let size = 0;
    let kept = false;
    try {
      try {
        for await (const chunk of body) {
          size += chunk.length;
          if (size > this.o.maxFileBytes) {
            throw packageCacheErrors.create(
              'PACKAGE_CACHE_TOO_LARGE',
              `${label} is larger than ${this.o.maxFileBytes} bytes; nothing was cached`,
            );
          }
          for (const h of hashes.values()) h.update(chunk);
          await handle.write(chunk);
        }
        await handle.chmod(0o444);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const got = new Map([...hashes].map(([a, h]) => [a, h.digest('hex')]));
      for (const a of algorithms) {
        if (got.get(a) !== expected[a]!.toLowerCase()) {
          throw packageCacheErrors.create(
            'PACKAGE_CACHE_INTEGRITY_MISMATCH',
            `${label}: its ${a} is ${got.get(a)}, but the registry's metadata declares ${expected[a]}; nothing was cached`,
            { algorithm: a },
          );
        }
      }
      const sha512 = got.get('sha512')!;
      const rel = `blobs/${sha512}`;
      // A blob removed behind the daemon's back (an operator freeing space) is written again.
      if (!(await this.hasBlob(sha512))) {
        await rename(tmp, path.join(this.o.dir, rel));
        kept = true;
        await this.add(rel, size);
      }
      return { sha512, size };
    } finally {
      if (!kept) await rm(tmp, { force: true });
    }
  }

  /** Metadata the daemon fetched itself (a packument, a tarball's digest), with the time it was fetched. */
  /** The blob whose digest a verified fetch recorded under `key` (package files are immutable once published). */
  async openRecorded(key: string): Promise<{ stream: ReadStream; size: number } | undefined> {
    const meta = await this.getMeta(key);
    return meta && this.openBlob(meta.data.toString());
  }

  async getMeta(key: string): Promise<{ data: Buffer; fetchedAt: number } | undefined> {
    const rel = this.metaRel(key);
    const entry = this.index.get(rel);
    if (!entry) return undefined;
    try {
      const raw = await readFile(path.join(this.o.dir, rel));
      // First line: when it was fetched (file times change with every use).
      const nl = raw.indexOf(0x0a);
      const fetchedAt = Number(raw.subarray(0, nl).toString());
      if (nl < 0 || !Number.isFinite(fetchedAt)) throw new Error('no header');
      this.use(rel, entry);
      return { data: raw.subarray(nl + 1), fetchedAt };
    } catch {
      this.forget(rel);
      return undefined;
    }
  }

  async putMeta(key: string, body: Buffer, fetchedAt = this.now()): Promise<void> {
    const data = Buffer.concat([Buffer.from(`${fetchedAt}\n`), body]);
    if (data.length > this.o.maxFileBytes) return;
    const rel = this.metaRel(key);
    const tmp = path.join(this.o.dir, 'tmp', randomBytes(12).toString('hex'));
    const handle = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o444,
    );
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    await rename(tmp, path.join(this.o.dir, rel));
    this.forget(rel);
    await this.add(rel, data.length);
  }

  private metaRel(key: string): string {
    return `meta/${createHash('sha256').update(key).digest('hex')}`;
  }

  private use(rel: string, entry: Entry): void {
    entry.used = this.now();
    // The use time survives a restart as the file's mtime (eviction order); best effort.
    const t = new Date(entry.used);
    utimes(path.join(this.o.dir, rel), t, t).catch(() => undefined);
  }

  private async add(rel: string, size: number): Promise<void> {
    this.index.set(rel, { size, used: this.now() });
    this.total += size;
    await this.evict(rel);
  }

  private forget(rel: string): void {
    const entry = this.index.get(rel);
    if (!entry) return;
    this.index.delete(rel);
    this.total -= entry.size;
  }

  /** Least recently used first, down to 90% of the cap; never the file just added. */
  private async evict(keep: string): Promise<void> {
    if (this.total <= this.o.maxBytes) return;
    const target = this.o.maxBytes * 0.9;
    const order = [...this.index].filter(([rel]) => rel !== keep).sort((a, b) => a[1].used - b[1].used);
    for (const [rel] of order) {
      if (this.total <= target) break;
      this.forget(rel);
      await rm(path.join(this.o.dir, rel), { force: true }).catch((err: unknown) =>
        this.o.logger.warn({ file: rel, err: (err as Error).message }, 'package cache: cannot evict'),
      );
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
