import { createHash } from 'node:crypto';
import { KeyedMutex } from '../shared/fs/index.js';
import { messageOf } from '../shared/index.js';
import type { GoRegistryConfig } from './config.js';
import { packageCacheErrors } from './errors.js';
import { hash1, hashGoMod, zipEntries } from './go-hash.js';
import type { CacheAnswer } from './npm.js';
import { getUpstream, readLimited, type RegistryDeps } from './upstream.js';

/** Under npm's reserved /-/ prefix, like Maven's. */
export const GO_PREFIX = '/-/go/';
/** A module path as the GOPROXY protocol escapes it (capitals as !lower): no `..`, no part starting with a dot. */
const MODULE = /^[a-z0-9!_~+-][a-z0-9.!_~+-]*(?:\/[a-z0-9!_~+-][a-z0-9.!_~+-]*)*$/;
const VERSION = /^v[0-9a-z.!+_-]+$/;
/** The checksum database's paths the go command asks through the proxy (it verifies their signatures itself). */
const SUMDB_PATH =
  /^(?:lookup\/[A-Za-z0-9.!_~+/@-]+|tile\/[0-9]+\/(?:[0-9]+|data)\/[0-9x/]+(?:\.p\/[0-9]+)?)$/;

export interface GoRegistryOptions extends RegistryDeps {
  config: GoRegistryConfig;
}

/**
 * A Go module proxy (the GOPROXY protocol) in front of the content store. A module version's .mod and .zip are
 * immutable: served only once their Go hash ("h1:", dirhash) matched the record the checksum database holds for
 * that version (a /lookup the cache asks itself, over TLS), then kept content-addressed and shared. The version
 * lists, @latest and .info change or carry no code: kept for the metadata TTL. The go command in the sandbox checks
 * every download against GOSUMDB as well (signed tree, inclusion proof): its checksum database requests are passed
 * through, never stored, so nothing the cache answers can stand in for the database's signature.
 */
export class GoRegistry {
  private readonly base: string;
  private readonly sumdb: string;
  private readonly inflight = new KeyedMutex();
  private readonly now: () => number;

  constructor(private readonly o: GoRegistryOptions) {
    this.base = o.config.upstream.replace(/\/+$/, '');
    this.sumdb = o.config.sumdb.replace(/\/+$/, '');
    this.now = o.now ?? Date.now;
  }

  /** The checksum database's name as the go command asks for it (GOSUMDB), e.g. sum.golang.org. */
  get sumdbName(): string {
    return this.o.config.sumdbName;
  }

  /** `rest`: the request path after /-/go/ (escaped as the go command sends it). */
  async handle(rest: string): Promise<CacheAnswer> {
    if (rest.startsWith('sumdb/')) return this.sumdbProxy(rest.slice('sumdb/'.length));
    const latest = rest.endsWith('/@latest');
    const at = rest.indexOf('/@v/');
    const module = latest ? rest.slice(0, -'/@latest'.length) : at > 0 ? rest.slice(0, at) : '';
    if (!MODULE.test(module) || module.split('/').some((s) => s.includes('..'))) throw bad(rest);
    if (latest) return this.metadata(`${module}/@latest`, 'application/json');
    const file = rest.slice(at + '/@v/'.length);
    if (file === 'list') return this.metadata(`${module}/@v/list`, 'text/plain');
    const m = /^(.+)\.(info|mod|zip)$/.exec(file);
    if (!m || !VERSION.test(m[1]!) || m[1]!.includes('..')) throw bad(rest);
    const [, version, ext] = m as unknown as [string, string, 'info' | 'mod' | 'zip'];
    if (ext === 'info') return this.metadata(`${module}/@v/${file}`, 'application/json');
    return this.verified(module, version, ext);
  }

  private async verified(module: string, version: string, ext: 'mod' | 'zip'): Promise<CacheAnswer> {
    const key = `go:${ext}:${module}@${version}`;
    const served = await this.recorded(key);
    if (served) return served;
    // One fetch per file at a time: a second sandbox asking meanwhile waits and is served the verified copy.
    return this.inflight.run(key, async () => {
      const again = await this.recorded(key);
      if (again) return again;
      const label = `${unescape(module)}@${unescape(version)}`;
      const res = await getUpstream(this.o.upstream, `${this.base}/${module}/@v/${version}.${ext}`, {
        accept: 'application/octet-stream',
      });
      if (!res) throw notFound(`${label} (${ext})`);
      const body = await readLimited(res, this.o.maxFileBytes, `the .${ext} of ${label}`);
      const want = await this.recordOf(module, version, ext === 'mod' ? '/go.mod' : '');
      let got: string;
      try {
        got = ext === 'mod' ? hashGoMod(body) : hash1(zipEntries(body, this.o.maxFileBytes));
      } catch (err) {
        throw mismatch(`${label}: its .${ext} cannot be hashed (${messageOf(err)}); nothing was cached`);
      }
      if (got !== want) {
        throw mismatch(
          `${label}: its .${ext} hashes to ${got}, but the checksum database records ${want}; nothing was cached`,
        );
      }
      // The bytes are the ones the database vouches for: stored under their own digest.
      const sha256 = createHash('sha256').update(body).digest('hex');
      const once = (async function* () {
        yield body;
      })();
      const { sha512 } = await this.o.store.ingest(once, { sha256 }, `go ${label} .${ext}`);
      await this.o.store.putMeta(key, Buffer.from(sha512));
      this.o.logger.info({ module: label, file: ext }, 'package cache: go module file verified and stored');
      const out = await this.recorded(key);
      if (!out) throw notFound(`${label} (${ext})`);
      return out;
    });
  }

  private async recorded(key: string): Promise<CacheAnswer | undefined> {
    const blob = await this.o.store.openRecorded(key);
    return blob && { status: 200, type: 'application/octet-stream', ...blob };
  }

  /** The h1: hash the checksum database records for module@version (`suffix` "/go.mod" for the go.mod). */
  private async recordOf(module: string, version: string, suffix: string): Promise<string> {
    const url = `${this.sumdb}/lookup/${module}@${version}`;
    const label = `${unescape(module)}@${unescape(version)}`;
    const res = await getUpstream(this.o.upstream, url, { accept: 'text/plain' });
    if (!res) throw mismatch(`${label}: the checksum database has no record of it; nothing was cached`);
    const text = (await readLimited(res, 64 * 1024, `the checksum record of ${label}`)).toString();
    const wanted = `${unescape(module)} ${unescape(version)}${suffix}`;
    for (const line of text.split('\n')) {
      const m = /^(\S+ \S+) (h1:[A-Za-z0-9+/]{43}=)$/.exec(line);
      if (m && m[1] === wanted) return m[2]!;
    }
    throw mismatch(`${label}: the checksum database's answer holds no h1: record for it; nothing was cached`);
  }

  /** @v/list, @latest and .info: fetched again after the metadata TTL (stale while upstream is down). */
  private async metadata(path: string, type: string): Promise<CacheAnswer> {
    const key = `go:meta:${path}`;
    const read = async () => {
      const c = await this.o.store.getMeta(key);
      return { cached: c, hit: c && this.now() - c.fetchedAt < this.o.metadataTtlMs ? c.data : undefined };
    };
    const first = await read();
    if (first.hit) return { status: 200, type, body: first.hit };
    const body = await this.inflight.run(key, async () => {
      const { cached, hit } = await read();
      if (hit) return hit;
      let res: Response | undefined;
      try {
        res = await getUpstream(this.o.upstream, `${this.base}/${path}`, { accept: type });
      } catch (err) {
        if (cached) return cached.data;
        throw err;
      }
      if (!res) throw notFound(unescape(path));
      const raw = await readLimited(res, 1024 * 1024, `go ${path}`);
      await this.o.store.putMeta(key, raw);
      return raw;
    });
    return { status: 200, type, body };
  }

  /** The checksum database, passed through for the go command (which checks its signatures and proofs). */
  private async sumdbProxy(rest: string): Promise<CacheAnswer> {
    const slash = rest.indexOf('/');
    const name = rest.slice(0, slash);
    const tail = rest.slice(slash + 1);
    // Any other database: 404 tells the go command to ask it directly (which the egress policy then decides).
    if (slash < 0 || name !== this.sumdbName) throw notFound(`checksum database ${name.slice(0, 100)}`);
    if (tail === 'supported') return { status: 200, type: 'text/plain', body: Buffer.alloc(0) };
    if (!SUMDB_PATH.test(tail) || tail.includes('..')) throw bad(rest);
    const res = await getUpstream(this.o.upstream, `${this.sumdb}/${tail}`, { accept: 'text/plain' });
    if (!res) throw notFound(`checksum database entry ${tail.slice(0, 200)}`);
    return {
      status: 200,
      type: 'text/plain',
      body: await readLimited(res, 1024 * 1024, 'a checksum database answer'),
    };
  }
}

/** The GOPROXY escaping undone: "!x" stands for "X". */
export function unescape(s: string): string {
  return s.replace(/!([a-z])/g, (_, c: string) => c.toUpperCase());
}

function mismatch(message: string) {
  return packageCacheErrors.create('PACKAGE_CACHE_INTEGRITY_MISMATCH', message);
}

function bad(what: string) {
  return packageCacheErrors.create(
    'PACKAGE_CACHE_BAD_REQUEST',
    `not a Go module proxy path: ${what.slice(0, 200)}`,
  );
}

function notFound(what: string) {
  return packageCacheErrors.create('PACKAGE_CACHE_NOT_FOUND', `the Go module proxy has no ${what}`);
}
