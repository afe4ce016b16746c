import { createHash } from 'node:crypto';
import { KeyedMutex } from '../shared/fs/index.js';
import type { MavenRegistryConfig } from './config.js';
import { packageCacheErrors } from './errors.js';
import type { CacheAnswer } from './npm.js';
import { bodyOf, getUpstream, readLimited, type RegistryDeps } from './upstream.js';

/** One path segment of the Maven 2 layout (group parts, artifact, version, file): no `..`, no slash, no NUL. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._+~-]*$/;
const METADATA = 'maven-metadata.xml';
/** Checksum files Maven asks for next to every file; answered from what the cache verified or serves. */
const SUMS = ['sha512', 'sha256', 'sha1', 'md5'] as const;
const MAX_SEGMENTS = 64;
/** Under npm's reserved /-/ prefix: a Maven path at the root could be an npm package's name. */
export const MAVEN_PREFIX = '/-/maven2/';

/** What a verified artifact is recorded as: its blob, and every digest Maven may ask for. */
interface Recorded {
  sha512: string;
  sha256: string;
  sha1: string;
  md5: string;
}

export interface MavenRegistryOptions extends RegistryDeps {
  config: MavenRegistryConfig;
}

/**
 * A Maven repository (Maven 2 layout) in front of the content store. An artifact (pom, jar, anything but
 * maven-metadata.xml) is served only once its bytes matched the checksum the upstream repository publishes next to
 * it (`.sha256`, else `.sha1`, both fetched by the cache itself); an artifact without a published checksum is
 * refused. Release files are immutable: verified once, then served to every sandbox from the store. Files of a
 * -SNAPSHOT version change upstream: their record is trusted for the metadata TTL only. maven-metadata.xml (the
 * version lists, which change) carries no code: it is kept for the metadata TTL, never in the content-addressed
 * store. Checksum files are answered from the digests of what the cache serves, never fetched for the sandbox.
 */
export class MavenRegistry {
  private readonly base: string;
  private readonly inflight = new KeyedMutex();
  private readonly now: () => number;

  constructor(private readonly o: MavenRegistryOptions) {
    this.base = o.config.upstream.replace(/\/+$/, '');
    this.now = o.now ?? Date.now;
  }

  /** `rest`: the repository path without its leading / (still URL-encoded). */
  async handle(rest: string): Promise<CacheAnswer> {
    const segments = parsePath(rest);
    const file = segments[segments.length - 1]!;
    const sum = SUMS.find((a) => file.endsWith(`.${a}`));
    const target = sum ? [...segments.slice(0, -1), file.slice(0, -sum.length - 1)] : segments;
    const name = target[target.length - 1]!;
    if (!name || !SEGMENT.test(name)) throw bad(rest);
    if (name === METADATA) {
      const body = await this.metadata(target.join('/'));
      if (!sum) return { status: 200, type: 'text/xml', body };
      return text(createHash(sum).update(body).digest('hex'));
    }
    // group (at least one part) / artifact / version / file
    if (target.length < 4) throw bad(rest);
    if (sum) return text((await this.artifact(target, false))[sum]);
    const rec = await this.artifact(target, true);
    const blob = await this.o.store.openBlob(rec.sha512);
    if (!blob) throw notFound(target.join('/'));
    return { status: 200, type: 'application/octet-stream', ...blob };
  }

  /** The verified record of an artifact: from the store, or fetched, checked against its checksum and stored. */
  private async artifact(segments: string[], needBlob: boolean): Promise<Recorded> {
    const path = segments.join('/');
    const key = `maven:file:${path}`;
    const snapshot = segments[segments.length - 2]!.endsWith('-SNAPSHOT');
    const known = async () => {
      const meta = await this.o.store.getMeta(key);
      if (!meta) return undefined;
      if (snapshot && this.now() - meta.fetchedAt >= this.o.metadataTtlMs) return undefined;
      const rec = JSON.parse(meta.data.toString()) as Recorded;
      // A blob removed behind the daemon's back (eviction, an operator) is fetched and verified again.
      if (needBlob && !(await this.o.store.hasBlob(rec.sha512))) return undefined;
      return rec;
    };
    const first = await known();
    if (first) return first;
    // One fetch per file at a time: a second sandbox asking meanwhile waits and is served the verified copy.
    return this.inflight.run(key, async () => {
      const again = await known();
      if (again) return again;
      const url = `${this.base}/${segments.map(encodeURIComponent).join('/')}`;
      const expected = await this.publishedChecksum(url);
      const res = await getUpstream(this.o.upstream, url, { accept: 'application/octet-stream' });
      if (!res) throw notFound(path);
      if (!expected) {
        await res.body?.cancel();
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_INTEGRITY_MISMATCH',
          `${path}: the repository publishes no .sha256 or .sha1 for it, so it cannot be verified; nothing was cached`,
        );
      }
      const sums = hashing(bodyOf(res));
      const { sha512 } = await this.o.store.ingest(sums.body, expected, `maven file ${path}`);
      const rec: Recorded = { sha512, ...sums.digests() };
      await this.o.store.putMeta(key, Buffer.from(JSON.stringify(rec)));
      this.o.logger.info({ file: path }, 'package cache: maven file verified and stored');
      return rec;
    });
  }

  /** The digest the repository publishes for `url`: its .sha256, else its .sha1; undefined when it has neither. */
  private async publishedChecksum(url: string): Promise<{ sha256: string } | { sha1: string } | undefined> {
    for (const [algorithm, length] of [
      ['sha256', 64],
      ['sha1', 40],
    ] as const) {
      const res = await getUpstream(this.o.upstream, `${url}.${algorithm}`, { accept: 'text/plain' });
      if (!res) continue;
      const raw = (await readLimited(res, 4096, `the ${algorithm} of ${url}`)).toString();
      // The file holds the hex digest, sometimes followed by the file name (sha1sum's format).
      const hex = raw.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
      if (!new RegExp(`^[0-9a-f]{${length}}$`).test(hex)) {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_INTEGRITY_MISMATCH',
          `the repository's ${algorithm} file for ${url.slice(this.base.length + 1)} is not a ${algorithm} digest; nothing was cached`,
        );
      }
      return algorithm === 'sha256' ? { sha256: hex } : { sha1: hex };
    }
    return undefined;
  }

  /** maven-metadata.xml as upstream serves it, kept for the metadata TTL (stale while upstream is down). */
  private async metadata(path: string): Promise<Buffer> {
    const key = `maven:metadata:${path}`;
    const read = async () => {
      const c = await this.o.store.getMeta(key);
      return { cached: c, hit: c && this.now() - c.fetchedAt < this.o.metadataTtlMs ? c.data : undefined };
    };
    const first = await read();
    if (first.hit) return first.hit;
    return this.inflight.run(key, async () => {
      const { cached, hit } = await read();
      if (hit) return hit;
      let res: Response | undefined;
      try {
        res = await getUpstream(this.o.upstream, `${this.base}/${path}`, { accept: 'text/xml' });
      } catch (err) {
        if (cached) {
          this.o.logger.warn({ file: path }, 'package cache: upstream failed, serving stale maven metadata');
          return cached.data;
        }
        throw err;
      }
      if (!res) throw notFound(path);
      const raw = await readLimited(res, this.o.maxFileBytes, `maven metadata ${path}`);
      await this.o.store.putMeta(key, raw);
      return raw;
    });
  }
}

/** The segments of a repository path; every one checked (no `..`, no encoded slash, no empty part). */
export function parsePath(rest: string): string[] {
  const raw = rest.split('/');
  if (raw.length < 2 || raw.length > MAX_SEGMENTS) throw bad(rest);
  return raw.map((s) => {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw bad(rest);
    }
    if (!SEGMENT.test(d) || d.includes('..')) throw bad(rest);
    return d;
  });
}

/** The body passed through unchanged, its sha256, sha1 and md5 computed on the way (Maven asks for them). */
function hashing(body: AsyncIterable<Uint8Array>) {
  const hashes = { sha256: createHash('sha256'), sha1: createHash('sha1'), md5: createHash('md5') };
  return {
    body: (async function* () {
      for await (const chunk of body) {
        for (const h of Object.values(hashes)) h.update(chunk);
        yield chunk;
      }
    })(),
    digests: () => ({
      sha256: hashes.sha256.digest('hex'),
      sha1: hashes.sha1.digest('hex'),
      md5: hashes.md5.digest('hex'),
    }),
  };
}

function text(s: string): CacheAnswer {
  return { status: 200, type: 'text/plain', body: Buffer.from(s) };
}

function bad(what: string) {
  return packageCacheErrors.create(
    'PACKAGE_CACHE_BAD_REQUEST',
    `not a Maven repository path: ${what.slice(0, 200)}`,
  );
}

function notFound(what: string) {
  return packageCacheErrors.create('PACKAGE_CACHE_NOT_FOUND', `the Maven repository has no ${what}`);
}
