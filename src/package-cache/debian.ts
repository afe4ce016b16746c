import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { KeyedMutex } from '../shared/fs/index.js';
import { messageOf } from '../shared/index.js';
import type { DebianRegistryConfig } from './config.js';
import { packageCacheErrors } from './errors.js';
import type { CacheAnswer } from './npm.js';
import { bodyOf, getUpstream, readLimited, type RegistryDeps } from './upstream.js';

/** Under npm's reserved /-/ prefix, like Maven's and Go's. */
export const DEBIAN_PREFIX = '/-/debian/';
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._+~-]*$/;
const SUITE = /^[a-z0-9][a-z0-9.+-]*$/;
const PACKAGES = /(^|\/)Packages(\.xz|\.gz)?$/;

/** A suite's InRelease, signature checked: what every index file of the suite must hash to. */
interface Release {
  fetchedAt: number;
  byPath: Map<string, string>;
  bySha: Map<string, string>;
}

export interface DebianRegistryOptions extends RegistryDeps {
  config: DebianRegistryConfig;
  /** Where the store's temporary files go (gpgv reads the InRelease from a file). */
  tmpDir: string;
}

/**
 * A Debian archive (apt's layout) in front of the content store, verified the way apt verifies it, on the host:
 * a suite's InRelease is served only once gpgv accepted its signature against the configured keyring (the Debian
 * archive keyring by default); every other file under dists/ (Packages, by-hash/…) only when its sha256 is the one
 * that verified InRelease lists for it; a pool/ file only when its sha256 is the one a verified Packages index lists
 * for it. InRelease is kept for the metadata TTL; index and pool files are immutable (by their hash) and shared.
 * apt in the sandbox checks everything again against its own keyring.
 */
export class DebianRegistry {
  private readonly base: string;
  private readonly inflight = new KeyedMutex();
  private readonly releases = new Map<string, Release>();
  /** pool/ file → sha256, from every Packages index verified so far (rebuilt from the store after a restart). */
  private readonly pool = new Map<string, string>();
  private readonly loaded = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly o: DebianRegistryOptions) {
    this.base = o.config.upstream.replace(/\/+$/, '');
    this.now = o.now ?? Date.now;
  }

  /** `rest`: the archive path after /-/debian/ (dists/… or pool/…). */
  async handle(rest: string): Promise<CacheAnswer> {
    const segments = rest.split('/').map((s) => {
      let d: string;
      try {
        d = decodeURIComponent(s);
      } catch {
        throw bad(rest);
      }
      if (!SEGMENT.test(d) || d.includes('..')) throw bad(rest);
      return d;
    });
    if (segments[0] === 'dists' && segments.length >= 3 && SUITE.test(segments[1]!)) {
      const suite = segments[1]!;
      const file = segments.slice(2).join('/');
      if (file === 'InRelease') {
        return { status: 200, type: 'text/plain', body: (await this.release(suite)).raw };
      }
      // apt uses InRelease; the detached pair would need a second verification path.
      if (file === 'Release' || file === 'Release.gpg') throw notFound(`${suite}/${file} (use InRelease)`);
      return this.index(suite, file);
    }
    if (segments[0] === 'pool' && segments.length >= 4) return this.poolFile(segments.join('/'));
    throw bad(rest);
  }

  /** A suite's InRelease (kept for the metadata TTL), its signature checked by gpgv and its hashes parsed. */
  private async release(suite: string, forceFresh = false): Promise<Release & { raw: Buffer }> {
    const key = `debian:inrelease:${suite}`;
    const read = async () => {
      const c = await this.o.store.getMeta(key);
      const fresh = c && !forceFresh && this.now() - c.fetchedAt < this.o.metadataTtlMs;
      return { cached: c, hit: fresh ? c : undefined };
    };
    const parsed = async (c: { data: Buffer; fetchedAt: number }) => {
      const known = this.releases.get(suite);
      if (known && known.fetchedAt === c.fetchedAt) return { ...known, raw: c.data };
      const r = { fetchedAt: c.fetchedAt, ...parseRelease(await this.verifySignature(c.data, suite)) };
      this.releases.set(suite, r);
      return { ...r, raw: c.data };
    };
    const first = await read();
    if (first.hit) return parsed(first.hit);
    return this.inflight.run(key, async () => {
      const { cached, hit } = forceFresh ? first : await read();
      if (hit) return parsed(hit);
      let res: Response | undefined;
      try {
        res = await getUpstream(this.o.upstream, `${this.base}/dists/${suite}/InRelease`, {
          accept: 'text/plain',
        });
      } catch (err) {
        if (cached) return parsed(cached);
        throw err;
      }
      if (!res) throw notFound(`suite ${suite}`);
      const raw = await readLimited(res, 16 * 1024 * 1024, `the InRelease of ${suite}`);
      // Checked before it is kept: an unsigned or foreign-signed InRelease never reaches the store.
      const r = parseRelease(await this.verifySignature(raw, suite));
      const fetchedAt = this.now();
      await this.o.store.putMeta(key, raw, fetchedAt);
      this.releases.set(suite, { fetchedAt, ...r });
      return { fetchedAt, ...r, raw };
    });
  }

  /** The signed text of an InRelease, or PACKAGE_CACHE_INTEGRITY_MISMATCH when gpgv does not accept it. */
  private async verifySignature(raw: Buffer, suite: string): Promise<string> {
    const base = path.join(this.o.tmpDir, `inrelease-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(`${base}.in`, raw, { mode: 0o600, flag: 'wx' });
      const r = await execa(
        'gpgv',
        ['--keyring', this.o.config.keyring, '--output', `${base}.out`, `${base}.in`],
        { reject: false, env: { LANG: 'C' }, timeout: 30_000 },
      );
      if (r.exitCode !== 0) {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_INTEGRITY_MISMATCH',
          `the InRelease of ${suite} has no valid signature by a key of ${this.o.config.keyring}; nothing was cached`,
          { gpgv: r.stderr.split('\n').slice(-3).join(' ').slice(0, 300) },
        );
      }
      return await readFile(`${base}.out`, 'utf8');
    } finally {
      await rm(`${base}.in`, { force: true });
      await rm(`${base}.out`, { force: true });
    }
  }

  /** A file under dists/<suite>/, served only when it hashes to what the verified InRelease lists for it. */
  private async index(suite: string, file: string): Promise<CacheAnswer> {
    let rel = await this.release(suite);
    const byHash = /(?:^|\/)by-hash\/SHA256\/([0-9a-f]{64})$/.exec(file);
    let sha256 = byHash ? (rel.bySha.has(byHash[1]!) ? byHash[1] : undefined) : rel.byPath.get(file);
    if (!sha256) {
      // The suite may have moved on since InRelease was kept: one fresh look before refusing.
      rel = await this.release(suite, true);
      sha256 = byHash ? (rel.bySha.has(byHash[1]!) ? byHash[1] : undefined) : rel.byPath.get(file);
    }
    if (!sha256) throw notFound(`dists/${suite}/${file} in the signed InRelease`);
    const listed = byHash ? rel.bySha.get(sha256)! : file;
    const key = `debian:sha256:${sha256}`;
    const answer = await this.verified(key, `dists/${suite}/${file}`, sha256);
    if (PACKAGES.test(listed)) await this.learn(key, listed);
    return answer;
  }

  /** A pool/ file, served only when it hashes to what a verified Packages index lists for it. */
  private async poolFile(file: string): Promise<CacheAnswer> {
    let sha256 = this.pool.get(file);
    if (!sha256) {
      await this.loadKnownIndexes();
      sha256 = this.pool.get(file);
    }
    if (!sha256) {
      throw packageCacheErrors.create(
        'PACKAGE_CACHE_INTEGRITY_MISMATCH',
        `${file} is listed in no Packages index the cache verified (run apt-get update through the cache first); nothing was fetched`,
      );
    }
    return this.verified(`debian:sha256:${sha256}`, file, sha256);
  }

  /** The blob recorded under `key`, or the upstream file at `file` fetched, checked against `sha256` and stored. */
  private async verified(key: string, file: string, sha256: string): Promise<CacheAnswer> {
    const served = await this.recorded(key);
    if (served) return served;
    return this.inflight.run(key, async () => {
      const again = await this.recorded(key);
      if (again) return again;
      const res = await getUpstream(this.o.upstream, `${this.base}/${file}`, {
        accept: 'application/octet-stream',
      });
      if (!res) throw notFound(file);
      const { sha512 } = await this.o.store.ingest(bodyOf(res), { sha256 }, `debian file ${file}`);
      await this.o.store.putMeta(key, Buffer.from(sha512));
      this.o.logger.info({ file }, 'package cache: debian file verified and stored');
      const out = await this.recorded(key);
      if (!out) throw notFound(file);
      return out;
    });
  }

  private async recorded(key: string): Promise<CacheAnswer | undefined> {
    const blob = await this.o.store.openRecorded(key);
    return blob && { status: 200, type: 'application/octet-stream', ...blob };
  }

  /** Reads a verified Packages index into the pool map, and remembers it for a restarted daemon. */
  private async learn(key: string, listed: string): Promise<void> {
    if (this.loaded.has(key)) return;
    await this.inflight.run('debian:learn', async () => {
      if (this.loaded.has(key)) return;
      const blob = await this.o.store.openRecorded(key);
      if (!blob) return;
      const chunks: Buffer[] = [];
      for await (const c of blob.stream) chunks.push(c as Buffer);
      let text: string;
      try {
        text = (await decompress(Buffer.concat(chunks), listed, this.o.maxFileBytes)).toString('utf8');
      } catch (err) {
        this.o.logger.warn(
          { file: listed, err: messageOf(err) },
          'package cache: cannot read a Packages index',
        );
        return;
      }
      for (const [file, sha] of parsePackages(text)) this.pool.set(file, sha);
      this.loaded.add(key);
      const known = await this.knownIndexes();
      if (!known.some((k) => k.key === key)) {
        known.push({ key, listed });
        await this.o.store.putMeta('debian:indexes', Buffer.from(JSON.stringify(known)));
      }
    });
  }

  private async knownIndexes(): Promise<{ key: string; listed: string }[]> {
    const meta = await this.o.store.getMeta('debian:indexes');
    try {
      return meta ? (JSON.parse(meta.data.toString()) as { key: string; listed: string }[]) : [];
    } catch {
      return [];
    }
  }

  private async loadKnownIndexes(): Promise<void> {
    for (const k of await this.knownIndexes()) await this.learn(k.key, k.listed);
  }
}

/** The SHA256 section of a Release file: path → sha256 and sha256 → path. */
export function parseRelease(text: string): { byPath: Map<string, string>; bySha: Map<string, string> } {
  const byPath = new Map<string, string>();
  const bySha = new Map<string, string>();
  let inSha = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) inSha = /^SHA256:\s*$/.test(line);
    else if (inSha) {
      const m = /^\s+([0-9a-f]{64})\s+\d+\s+(\S+)\s*$/.exec(line);
      if (m) {
        byPath.set(m[2]!, m[1]!);
        bySha.set(m[1]!, m[2]!);
      }
    }
  }
  return { byPath, bySha };
}

/** Filename → SHA256 of every stanza of a Packages index. */
export function parsePackages(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const file = /^Filename:\s*(\S+)\s*$/m.exec(stanza)?.[1];
    const sha = /^SHA256:\s*([0-9a-f]{64})\s*$/m.exec(stanza)?.[1];
    if (file && sha && file.startsWith('pool/')) out.set(file, sha);
  }
  return out;
}

async function decompress(data: Buffer, name: string, max: number): Promise<Buffer> {
  if (name.endsWith('.gz')) return gunzipSync(data, { maxOutputLength: max });
  if (name.endsWith('.xz')) {
    const r = await execa('xz', ['-dc'], {
      input: data,
      encoding: 'buffer',
      maxBuffer: max,
      timeout: 120_000,
    });
    return Buffer.from(r.stdout);
  }
  return data;
}

function bad(what: string) {
  return packageCacheErrors.create(
    'PACKAGE_CACHE_BAD_REQUEST',
    `not a Debian archive path (dists/<suite>/… or pool/…): ${what.slice(0, 200)}`,
  );
}

function notFound(what: string) {
  return packageCacheErrors.create('PACKAGE_CACHE_NOT_FOUND', `the Debian archive has no ${what}`);
}
