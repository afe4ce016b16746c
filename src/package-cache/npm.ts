import type { Readable } from 'node:stream';
import { KeyedMutex } from '../shared/fs/index.js';
import type { RegistryConfig } from './config.js';
import { packageCacheErrors } from './errors.js';
import type { ContentStore, ExpectedDigests } from './store.js';
import { bodyOf, getUpstream, readLimited, type RegistryDeps } from './upstream.js';

/** What the cache answers: JSON, or a verified file streamed from the store. */
export type CacheAnswer =
  { status: 200; type: string; body: Buffer } | { status: 200; type: string; stream: Readable; size: number };

/** A verified file the store holds under `key`, as an answer (npm tarballs and Python files alike). */
export async function recordedAnswer(store: ContentStore, key: string): Promise<CacheAnswer | undefined> {
  const blob = await store.openRecorded(key);
  return blob && { status: 200, type: 'application/octet-stream', ...blob };
}

const CORGI = 'application/vnd.npm.install-v1+json';
const NAME = /^(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*$/;
const FILE = /^[A-Za-z0-9~-][A-Za-z0-9._~+-]*\.tgz$/;

type Kind = 'corgi' | 'full';

interface Packument {
  versions?: Record<string, { dist?: { tarball?: unknown; integrity?: unknown; shasum?: unknown } }>;
}

export interface NpmRegistryOptions extends RegistryDeps {
  config: RegistryConfig;
}

/**
 * The npm registry protocol in front of the content store. Packuments come from upstream (kept for the metadata
 * TTL) with every tarball URL pointed at the asking sandbox's cache endpoint; a tarball is served only once its
 * bytes matched the sha512 that the upstream packument declares (dist.integrity; dist.shasum for packages that
 * predate it), fetched by the cache itself from the upstream's own URL. Nothing a sandbox sends is stored.
 */
export class NpmRegistry {
  private readonly origin: string;
  private readonly base: string;
  private readonly inflight = new KeyedMutex();
  private readonly now: () => number;

  constructor(private readonly o: NpmRegistryOptions) {
    const url = new URL(o.config.upstream);
    this.origin = url.origin;
    this.base = o.config.upstream.replace(/\/+$/, '');
    this.now = o.now ?? Date.now;
  }

  /** `rest`: the request path without its leading / (still URL-encoded); `self`: this sandbox's cache URL. */
  async handle(rest: string, accept: string, self: string): Promise<CacheAnswer> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      throw bad(rest);
    }
    const dash = decoded.indexOf('/-/');
    if (dash < 0) {
      if (!NAME.test(decoded)) throw bad(decoded);
      const kind: Kind = accept.includes(CORGI) ? 'corgi' : 'full';
      const { json } = await this.packument(decoded, kind, false);
      const body = Buffer.from(JSON.stringify(this.rewrite(decoded, json, self)));
      return { status: 200, type: kind === 'corgi' ? CORGI : 'application/json', body };
    }
    const name = decoded.slice(0, dash);
    const file = decoded.slice(dash + 3);
    if (!NAME.test(name) || !FILE.test(file)) throw bad(decoded);
    return this.tarball(name, file);
  }

  private async tarball(name: string, file: string): Promise<CacheAnswer> {
    const key = `npm:tgz:${name}/${file}`;
    const served = await recordedAnswer(this.o.store, key);
    if (served) return served;
    // One fetch per file at a time: a second sandbox asking meanwhile waits and is served the verified copy.
    return this.inflight.run(key, async () => {
      const again = await recordedAnswer(this.o.store, key);
      if (again) return again;
      const dist = await this.distOf(name, file);
      const url = new URL(String(dist.tarball), this.base + '/');
      if (url.origin !== this.origin) {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_UPSTREAM_FAILED',
          `${name}/${file}: the registry points its tarball at ${url.origin}, which is not the configured upstream; refused`,
        );
      }
      const expected = digestsOf(dist);
      if (!expected) {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_INTEGRITY_MISMATCH',
          `${name}/${file}: the registry declares no sha512 integrity or sha1 shasum for it; nothing was cached`,
        );
      }
      let sha512 = expected.sha512;
      if (!sha512 || !(await this.o.store.hasBlob(sha512))) {
        const res = await getUpstream(this.o.upstream, url.href, { accept: 'application/octet-stream' });
        if (!res) throw notFound(`${name}/${file}`);
        ({ sha512 } = await this.o.store.ingest(bodyOf(res), expected, `npm tarball ${name}/${file}`));
        this.o.logger.info({ package: name, file }, 'package cache: tarball verified and stored');
      }
      await this.o.store.putMeta(key, Buffer.from(sha512));
      const out = await recordedAnswer(this.o.store, key);
      if (!out) throw notFound(`${name}/${file}`);
      return out;
    });
  }

  /** The upstream dist entry of the version whose tarball is `file` (a fresh packument when a cached one lacks it). */
  private async distOf(name: string, file: string) {
    for (const fresh of [false, true]) {
      const { json } = await this.packument(name, 'corgi', fresh);
      for (const v of Object.values(json.versions ?? {})) {
        const t = v?.dist?.tarball;
        if (typeof t === 'string' && basename(t) === file) return v.dist!;
      }
    }
    throw notFound(`${name}/${file}`);
  }

  private async packument(
    name: string,
    kind: Kind,
    forceFresh: boolean,
  ): Promise<{ raw: Buffer; json: Packument }> {
    const key = `npm:packument:${kind}:${name}`;
    const fresh = async () => {
      const c = await this.o.store.getMeta(key);
      const ok = c && !forceFresh && this.now() - c.fetchedAt < this.o.metadataTtlMs;
      return {
        cached: c,
        hit: ok ? { raw: c.data, json: JSON.parse(c.data.toString()) as Packument } : undefined,
      };
    };
    const first = await fresh();
    if (first.hit) return first.hit;
    return this.inflight.run(key, async () => {
      // Whoever waited on another fetch of the same packument takes its result.
      const { cached, hit } = forceFresh ? first : await fresh();
      if (hit) return hit;
      const url = `${this.base}/${name.replace('/', '%2f')}`;
      let res: Response | undefined;
      try {
        res = await getUpstream(this.o.upstream, url, {
          accept: kind === 'corgi' ? `${CORGI}; q=1.0, application/json; q=0.8` : 'application/json',
        });
      } catch (err) {
        // The registry is down: metadata already fetched still serves (tarballs are verified either way).
        if (cached) {
          this.o.logger.warn({ package: name }, 'package cache: upstream failed, serving stale metadata');
          return { raw: cached.data, json: JSON.parse(cached.data.toString()) as Packument };
        }
        throw err;
      }
      if (!res) throw notFound(name);
      const raw = await readLimited(res, this.o.maxFileBytes, `the packument of ${name}`);
      let json: Packument;
      try {
        json = JSON.parse(raw.toString()) as Packument;
      } catch {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_UPSTREAM_FAILED',
          `the upstream packument of ${name} is not JSON`,
        );
      }
      if (typeof json !== 'object' || json === null) {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_UPSTREAM_FAILED',
          `the upstream packument of ${name} is not an object`,
        );
      }
      await this.o.store.putMeta(key, raw);
      return { raw, json };
    });
  }

  /** Every version's tarball URL points at the asking sandbox's endpoint, where the cache verifies it. */
  private rewrite(name: string, json: Packument, self: string): Packument {
    for (const v of Object.values(json.versions ?? {})) {
      const t = v?.dist?.tarball;
      if (typeof t === 'string') v.dist!.tarball = `${self}/${name}/-/${basename(t)}`;
    }
    return json;
  }
}

/** sha512 from dist.integrity (the SRI string may list several); sha1 dist.shasum only when there is none. */
export function digestsOf(dist: { integrity?: unknown; shasum?: unknown }): ExpectedDigests | undefined {
  if (typeof dist.integrity === 'string') {
    for (const part of dist.integrity.trim().split(/\s+/)) {
      const m = /^sha512-([A-Za-z0-9+/]+={0,2})$/.exec(part);
      if (m) {
        const hex = Buffer.from(m[1]!, 'base64').toString('hex');
        if (hex.length === 128) return { sha512: hex };
      }
    }
  }
  if (typeof dist.shasum === 'string' && /^[0-9a-f]{40}$/i.test(dist.shasum)) return { sha1: dist.shasum };
  return undefined;
}

function basename(url: string): string {
  const p = url.replace(/[?#].*$/, '');
  return decodeURIComponent(p.slice(p.lastIndexOf('/') + 1));
}

function bad(what: string) {
  return packageCacheErrors.create(
    'PACKAGE_CACHE_BAD_REQUEST',
    `not an npm package or tarball path: ${what.slice(0, 200)}`,
  );
}

function notFound(what: string) {
  return packageCacheErrors.create('PACKAGE_CACHE_NOT_FOUND', `the registry has no ${what}`);
}
