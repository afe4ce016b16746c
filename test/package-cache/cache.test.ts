/**
 * The package cache on the host, against a loopback npm registry of real `npm pack` tarballs and the host's own
 * npm as the client (what a sandbox runs, minus gVisor: test/integration/package-cache-sandbox.test.ts does that).
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PackageCache, PackageCacheConfig, type EgressDoor } from '../../src/package-cache/index.js';
import type { Logger } from '../../src/shared/index.js';
import { FakeNpmRegistry, publishTree } from './fake-registry.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

describe('the shared package cache (npm)', () => {
  const registry = new FakeNpmRegistry();
  let deps: Record<string, string>;
  let tmp: string;
  const caches: PackageCache[] = [];
  const asked: { sandbox: string; host: string; port: number }[] = [];
  let denied = new Set<string>();
  const door: EgressDoor = (sandbox, req) => {
    asked.push({ sandbox, ...req });
    return Promise.resolve(
      denied.has(sandbox)
        ? {
            id: 'dec_0123456789abcdef',
            outcome: 'deny',
            reason: 'registry.npmjs.org is not in the allowlist',
          }
        : { id: 'dec_allow', outcome: 'allow', reason: 'ok' },
    );
  };

  beforeAll(async () => {
    await registry.start();
    deps = await publishTree(registry, 2);
    tmp = await mkdtemp(path.join(tmpdir(), 'aibox-pkgcache-'));
  }, 120_000);

  afterEach(async () => {
    for (const c of caches.splice(0)) await c.close();
    denied = new Set();
  });

  afterAll(async () => {
    await registry.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  const newCache = async (name: string, over: Record<string, unknown> = {}) => {
    const config = PackageCacheConfig.parse({
      enabled: true,
      sandboxHost: '127.0.0.1',
      npm: { upstream: registry.url, policyHost: 'registry.npmjs.org' },
      ...over,
    });
    const cache = new PackageCache({ config, dir: path.join(tmp, name), door, logger: quiet });
    await cache.init();
    caches.push(cache);
    return cache;
  };

  /** A project with a lockfile made against the upstream itself (as committed lockfiles are). */
  const project = async (name: string) => {
    const dir = path.join(tmp, `proj-${name}`);
    await execa('mkdir', ['-p', dir]);
    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name, version: '1.0.0', dependencies: deps }),
    );
    await npm(dir, registry.url, ['install', '--package-lock-only']);
    return dir;
  };

  const npm = (cwd: string, reg: string, args: string[], env: Record<string, string> = {}) =>
    execa('npm', [...args, '--no-audit', '--no-fund', '--registry', reg], {
      cwd,
      reject: false,
      env: {
        npm_config_cache: path.join(cwd, '.npm-cache'),
        npm_config_update_notifier: 'false',
        npm_config_replace_registry_host: 'always',
        ...env,
      },
    });

  it("serves a second sandbox's npm ci from the cache: each tarball fetched upstream once", async () => {
    const cache = await newCache('shared');
    const dir = await project('two');
    registry.requests.length = 0;
    const a = await cache.openFor('id-a', 'a');
    const b = await cache.openFor('id-b', 'b');
    const first = await npm(dir, `${cache.urlOf(a)}/`, ['ci']);
    expect(first.exitCode, first.stderr).toBe(0);
    const lock = JSON.parse(await readFile(path.join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { integrity?: string }>;
    };
    const locked = Object.values(lock.packages).filter((p) => p.integrity).length;
    expect(locked).toBe(5);
    expect(registry.tarballHits()).toBe(locked);
    await rm(path.join(dir, 'node_modules'), { recursive: true });
    await rm(path.join(dir, '.npm-cache'), { recursive: true });
    const before = registry.requests.length;
    const second = await npm(dir, `${cache.urlOf(b)}/`, ['ci']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(registry.requests.length).toBe(before);
    const { stdout } = await execa('node', ['-e', 'console.log(require("aibox-web/package.json").version)'], {
      cwd: dir,
    });
    expect(stdout.trim()).toBe('3.0.0');
    // Each sandbox asked its own egress door about the registry the policy knows.
    expect(
      asked.filter((q) => q.host === 'registry.npmjs.org' && q.port === 443).map((q) => q.sandbox),
    ).toEqual(expect.arrayContaining(['a', 'b']));
  }, 120_000);

  const get = (url: string, init?: RequestInit) => fetch(url, init);

  it('installs without a lockfile through the tarball URLs it rewrote (npm swaps their origin for the registry)', async () => {
    const cache = await newCache('install');
    const port = await cache.openFor('id-i', 'i');
    const dir = path.join(tmp, 'proj-install');
    await execa('mkdir', ['-p', dir]);
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'i', version: '1.0.0' }));
    const r = await npm(dir, `${cache.urlOf(port)}/`, ['install', 'aibox-web@3']);
    expect(r.exitCode, r.stderr).toBe(0);
    const lock = await readFile(path.join(dir, 'package-lock.json'), 'utf8');
    expect(lock).toContain('"node_modules/@acme/log"');
  }, 60_000);

  it('refuses a tarball whose bytes do not match the integrity upstream declares, and caches nothing', async () => {
    const cache = await newCache('poison');
    const port = await cache.openFor('id-p', 'p');
    registry.add('aibox-evil', '1.0.0', Buffer.from('the real tarball'));
    registry.poison('aibox-evil', '1.0.0');
    const url = `${cache.urlOf(port)}/aibox-evil/-/aibox-evil-1.0.0.tgz`;
    const before = registry.hits('aibox-evil/-/');
    const r = await get(url);
    expect(r.status).toBe(502);
    const body = (await r.json()) as { code: string; error: string };
    expect(body.code).toBe('PACKAGE_CACHE_INTEGRITY_MISMATCH');
    expect(await readdir(path.join(tmp, 'poison', 'blobs'))).toEqual([]);
    expect(await readdir(path.join(tmp, 'poison', 'tmp'))).toEqual([]);
    // Not remembered as good either: the next request goes upstream again, and is refused again.
    expect((await get(url)).status).toBe(502);
    expect(registry.hits('aibox-evil/-/')).toBe(before + 2);
  });

  it('refuses a sandbox whose egress policy does not allow the registry, with the decision id, before any fetch', async () => {
    const cache = await newCache('denied');
    const port = await cache.openFor('id-d', 'd');
    denied.add('d');
    const before = registry.requests.length;
    const r = await get(`${cache.urlOf(port)}/aibox-util`);
    expect(r.status).toBe(403);
    const body = (await r.json()) as { code: string; error: string; decision: string };
    expect(body).toMatchObject({ code: 'PACKAGE_CACHE_EGRESS_DENIED', decision: 'dec_0123456789abcdef' });
    expect(body.error).toContain('aibox policy explain --log-entry dec_0123456789abcdef');
    expect(registry.requests.length).toBe(before);
    // npm shows the reason and the decision to the agent.
    const dir = await project('denied');
    const ci = await npm(dir, `${cache.urlOf(port)}/`, ['ci']);
    expect(ci.exitCode).not.toBe(0);
    expect(ci.stderr).toContain('403');
    expect(ci.stderr).toContain('dec_0123456789abcdef');
  }, 60_000);

  it('is read-only: no publish or upload, and its files are root-only and read-only on the host', async () => {
    const cache = await newCache('ro');
    const port = await cache.openFor('id-r', 'r');
    const tgz = `${cache.urlOf(port)}/aibox-util/-/aibox-util-1.0.0.tgz`;
    expect((await get(tgz)).status).toBe(200);
    for (const method of ['PUT', 'POST', 'DELETE']) {
      const r = await get(tgz, { method, body: method === 'DELETE' ? undefined : 'x' });
      expect([method, r.status]).toEqual([method, 405]);
    }
    const put = await get(`${cache.urlOf(port)}/aibox-util`, { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);
    const dir = path.join(tmp, 'ro');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const sub of ['blobs', 'meta']) {
      expect((await stat(path.join(dir, sub))).mode & 0o777).toBe(0o700);
      const files = await readdir(path.join(dir, sub));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect((await stat(path.join(dir, sub, f))).mode & 0o777).toBe(0o444);
    }
    // Content-addressed: the blob's name is the sha512 of its bytes.
    const [blob] = await readdir(path.join(dir, 'blobs'));
    const { createHash } = await import('node:crypto');
    expect(
      createHash('sha512')
        .update(await readFile(path.join(dir, 'blobs', blob!)))
        .digest('hex'),
    ).toBe(blob);
  });

  it('rewrites packument tarball URLs to the asking sandbox, and refuses bad names and unknown paths', async () => {
    const cache = await newCache('paths');
    const port = await cache.openFor('id-x', 'x');
    const r = await get(`${cache.urlOf(port)}/@acme%2flog`, {
      headers: { accept: 'application/vnd.npm.install-v1+json' },
    });
    expect(r.status).toBe(200);
    const json = (await r.json()) as { versions: Record<string, { dist: { tarball: string } }> };
    expect(json.versions['2.0.0']!.dist.tarball).toBe(`${cache.urlOf(port)}/@acme/log/-/log-2.0.0.tgz`);
    expect((await get(json.versions['2.0.0']!.dist.tarball)).status).toBe(200);
    expect((await get(`${cache.urlOf(port)}/..%2f..%2fetc`)).status).toBe(400);
    expect((await get(`${cache.urlOf(port)}/aibox-util/-/..%2fx.tgz`)).status).toBe(400);
    expect((await get(`${cache.urlOf(port)}/nope-not-there`)).status).toBe(404);
    expect((await get(`${cache.urlOf(port)}/aibox-util/-/aibox-util-9.9.9.tgz`)).status).toBe(404);
    expect((await get(`${cache.urlOf(port)}/etc/passwd`)).status).toBe(400);
    expect((await get(`${cache.urlOf(port)}/-/ping`)).status).toBe(404);
  });

  it('refuses a tarball the packument places on another host than the upstream', async () => {
    const cache = await newCache('origin', {
      npm: { upstream: registry.url.replace('127.0.0.1', 'localhost'), policyHost: 'registry.npmjs.org' },
    });
    const port = await cache.openFor('id-o', 'o');
    // The fake registry's packuments name 127.0.0.1, the configured upstream is localhost: another origin.
    const r = await get(`${cache.urlOf(port)}/aibox-util/-/aibox-util-1.0.0.tgz`);
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: string }).error).toContain('not the configured upstream');
  });

  it('stays under its size cap, dropping the least recently used tarballs', async () => {
    const cache = await newCache('cap', { maxMiB: 1 });
    const port = await cache.openFor('id-c', 'c');
    const big = (n: number) => Buffer.alloc(400 * 1024, n);
    for (let i = 0; i < 4; i++) registry.add(`aibox-big-${i}`, '1.0.0', big(i));
    for (let i = 0; i < 4; i++) {
      const r = await get(`${cache.urlOf(port)}/aibox-big-${i}/-/aibox-big-${i}-1.0.0.tgz`);
      expect(r.status).toBe(200);
      expect(Buffer.from(await r.arrayBuffer()).equals(big(i))).toBe(true);
    }
    expect(cache.store.sizeBytes).toBeLessThanOrEqual(1024 * 1024);
    const blobs = await readdir(path.join(tmp, 'cap', 'blobs'));
    expect(blobs.length).toBeLessThan(4);
    // An evicted one is fetched (and verified) again.
    const before = registry.hits('aibox-big-0/-/');
    expect((await get(`${cache.urlOf(port)}/aibox-big-0/-/aibox-big-0-1.0.0.tgz`)).status).toBe(200);
    expect(registry.hits('aibox-big-0/-/')).toBe(before + 1);
  });

  it('fetches and verifies again what was removed from its folder behind its back', async () => {
    const cache = await newCache('removed');
    const port = await cache.openFor('id-rm', 'rm');
    const url = `${cache.urlOf(port)}/aibox-util/-/aibox-util-1.0.0.tgz`;
    expect((await get(url)).status).toBe(200);
    for (const sub of ['blobs', 'meta'])
      for (const f of await readdir(path.join(tmp, 'removed', sub)))
        await rm(path.join(tmp, 'removed', sub, f));
    const before = registry.hits('aibox-util/-/');
    const again = await get(url);
    expect(again.status).toBe(200);
    expect((await again.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(registry.hits('aibox-util/-/')).toBe(before + 1);
    expect(await readdir(path.join(tmp, 'removed', 'blobs'))).toHaveLength(1);
  });
});
