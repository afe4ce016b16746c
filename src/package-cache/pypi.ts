import { KeyedMutex } from '../shared/fs/index.js';
import type { PypiRegistryConfig } from './config.js';
import { packageCacheErrors } from './errors.js';
import { recordedAnswer, type CacheAnswer } from './npm.js';
import { bodyOf, getUpstream, readLimited, type RegistryDeps } from './upstream.js';

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const PROJECT = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

interface SimpleFile {
  filename?: unknown;
  url?: unknown;
  hashes?: { sha256?: unknown };
  [key: string]: unknown;
}
interface SimplePage {
  name?: unknown;
  files?: SimpleFile[];
  [key: string]: unknown;
}

export interface PypiRegistryOptions extends RegistryDeps {
  config: PypiRegistryConfig;
}

/**
 * The Python package index in front of the content store. Project pages come from upstream as PEP 691 JSON
 * (kept for the metadata TTL) and are served as JSON or PEP 503 HTML with every file URL pointed at the asking
 * sandbox's endpoint; a file is served only once its bytes matched the sha256 the upstream page declares, fetched
 * by the cache itself from the configured files host (or the index host).
 */
export class PypiRegistry {
  private readonly inflight = new KeyedMutex();
  private readonly origins: Set<string>;
  private readonly now: () => number;

  constructor(private readonly o: PypiRegistryOptions) {
    this.origins = new Set([new URL(o.config.upstream).origin, new URL(o.config.files).origin]);
    this.now = o.now ?? Date.now;
  }

  /** The simple page of a project (`rest` = its name), as JSON or HTML as the client asks. */
  async page(rest: string, accept: string, self: string): Promise<CacheAnswer> {
    const project = normalize(decode(rest.replace(/\/$/, '')));
    const json = await this.project(project);
    const files = (json.files ?? []).filter((f) => typeof f.filename === 'string' && FILE.test(f.filename));
    const rewritten = files.map((f) => ({ ...f, url: `${self}/${project}/${String(f.filename)}` }));
    if (accept.includes(JSON_TYPE)) {
      return {
        status: 200,
        type: JSON_TYPE,
        body: Buffer.from(JSON.stringify({ ...json, files: rewritten })),
      };
    }
    const links = rewritten.map((f) => {
      const sha = typeof f.hashes?.sha256 === 'string' ? `#sha256=${f.hashes.sha256}` : '';
      return `<a href="${escape(f.url)}${sha}">${escape(String(f.filename))}</a><br/>`;
    });
    const html = `<!DOCTYPE html><html><body><h1>Links for ${escape(project)}</h1>\n${links.join('\n')}\n</body></html>\n`;
    return { status: 200, type: 'text/html', body: Buffer.from(html) };
  }

  /** A file of a project (`rest` = `<project>/<filename>`), verified against the upstream page's sha256. */
  async file(rest: string): Promise<CacheAnswer> {
    const slash = rest.indexOf('/');
    const project = normalize(decode(rest.slice(0, slash)));
    const filename = decode(rest.slice(slash + 1));
    if (slash < 0 || !FILE.test(filename)) throw bad(rest);
    const key = `pypi:file:${project}/${filename}`;
    const known = await recordedAnswer(this.o.store, key);
    if (known) return known;
    return this.inflight.run(key, async () => {
      const again = await recordedAnswer(this.o.store, key);
      if (again) return again;
      let entry: SimpleFile | undefined;
      for (const fresh of [false, true]) {
        entry = (await this.project(project, fresh)).files?.find((f) => f.filename === filename);
        if (entry) break;
      }
      if (!entry || typeof entry.url !== 'string') throw notFound(`${project}/${filename}`);
      const sha256 = entry.hashes?.sha256;
      if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256)) {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_INTEGRITY_MISMATCH',
          `${project}/${filename}: the index declares no sha256 for it; nothing was cached`,
        );
      }
      const url = new URL(entry.url, `${this.o.config.upstream.replace(/\/+$/, '')}/simple/${project}/`);
      if (!this.origins.has(url.origin)) {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_UPSTREAM_FAILED',
          `${project}/${filename}: the index points at ${url.origin}, which is not the configured index or files host; refused`,
        );
      }
      const res = await getUpstream(this.o.upstream, url.href, { accept: 'application/octet-stream' });
      if (!res) throw notFound(`${project}/${filename}`);
      const { sha512 } = await this.o.store.ingest(
        bodyOf(res),
        { sha256 },
        `python file ${project}/${filename}`,
      );
      this.o.logger.info({ project, filename }, 'package cache: python file verified and stored');
      await this.o.store.putMeta(key, Buffer.from(sha512));
      const out = await recordedAnswer(this.o.store, key);
      if (!out) throw notFound(`${project}/${filename}`);
      return out;
    });
  }

  private async project(project: string, forceFresh = false): Promise<SimplePage> {
    const key = `pypi:page:${project}`;
    const read = async () => {
      const c = await this.o.store.getMeta(key);
      const ok = c && !forceFresh && this.now() - c.fetchedAt < this.o.metadataTtlMs;
      return { cached: c, hit: ok ? (JSON.parse(c.data.toString()) as SimplePage) : undefined };
    };
    const first = await read();
    if (first.hit) return first.hit;
    return this.inflight.run(key, async () => {
      const { cached, hit } = forceFresh ? first : await read();
      if (hit) return hit;
      const url = `${this.o.config.upstream.replace(/\/+$/, '')}/simple/${project}/`;
      let res: Response | undefined;
      try {
        res = await getUpstream(this.o.upstream, url, { accept: JSON_TYPE });
      } catch (err) {
        if (cached) return JSON.parse(cached.data.toString()) as SimplePage;
        throw err;
      }
      if (!res) throw notFound(project);
      const raw = await readLimited(res, this.o.maxFileBytes, `the index page of ${project}`);
      let json: SimplePage;
      try {
        json = JSON.parse(raw.toString()) as SimplePage;
        if (typeof json !== 'object' || json === null || !Array.isArray(json.files))
          throw new Error('no files');
      } catch {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_UPSTREAM_FAILED',
          `the index page of ${project} is not PEP 691 JSON`,
        );
      }
      await this.o.store.putMeta(key, raw);
      return json;
    });
  }
}

/** PEP 503 name normalisation (the index's canonical project URL). */
function normalize(name: string): string {
  if (!PROJECT.test(name)) throw bad(name);
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw bad(s);
  }
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function bad(what: string) {
  return packageCacheErrors.create(
    'PACKAGE_CACHE_BAD_REQUEST',
    `not a Python project or file path: ${what.slice(0, 200)}`,
  );
}

function notFound(what: string) {
  return packageCacheErrors.create('PACKAGE_CACHE_NOT_FOUND', `the index has no ${what}`);
}
