/**
 * The package cache's Go module side on the host, against a loopback module proxy and checksum database
 * (proxy.golang.org and sum.golang.org are not reachable from this machine): .mod and .zip served only when their
 * h1: hash matches the database's record (hashes made by Python in the fake, independently of the cache), shared
 * across sandboxes, a planted zip or an unrecorded version refused with nothing kept, the version list kept for the
 * metadata TTL, the database passed through for the go command, path checks, and the sandbox environment.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  goHash1,
  hashGoMod,
  PackageCache,
  PackageCacheConfig,
  zipEntries,
  type EgressDoor,
} from '../../src/package-cache/index.js';
import type { Logger } from '../../src/shared/index.js';
import { FakeGoProxy } from './fake-go.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

describe('the shared package cache (Go modules)', () => {
  const up = new FakeGoProxy();
  let tmp: string;
  const caches: PackageCache[] = [];
  const asked: string[] = [];
  let deny: string | undefined;
  let clock = 5_000_000;
  const door: EgressDoor = (sandbox, req) => {
    asked.push(`${sandbox} ${req.host}:${req.port}`);
    return Promise.resolve(
      req.host === deny
        ? { id: 'dec_00000000000000cc', outcome: 'deny', reason: `${req.host} is not allowed` }
        : { id: 'dec_allow', outcome: 'allow', reason: 'ok' },
    );
  };
  let hello: Awaited<ReturnType<FakeGoProxy['add']>>;

  beforeAll(async () => {
    await up.start();
    hello = await up.add(
      'example.test/hello',
      'v1.0.0',
      'package hello\n\nfunc Hello() string { return "hi" }\n',
    );
    await up.add('example.test/evil', 'v1.0.0', 'package evil\n');
    await up.poison('example.test/evil', 'v1.0.0');
    await up.add('example.test/private', 'v1.0.0', 'package private\n');
    up.unrecorded.add('example.test/private@v1.0.0');
    tmp = await mkdtemp(path.join(tmpdir(), 'aibox-gocache-'));
  });
  afterEach(async () => {
    for (const c of caches.splice(0)) await c.close();
    deny = undefined;
  });
  afterAll(async () => {
    await up.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  const newCache = async (name: string) => {
    const config = PackageCacheConfig.parse({
      enabled: true,
      sandboxHost: '127.0.0.1',
      go: {
        upstream: up.url,
        sumdb: up.sumdbUrl,
        policyHost: 'proxy.golang.org',
        sumdbPolicyHost: 'sum.golang.org',
      },
    });
    const cache = new PackageCache({
      config,
      dir: path.join(tmp, name),
      door,
      logger: quiet,
      now: () => clock,
    });
    await cache.init();
    caches.push(cache);
    return cache;
  };
  const get = async (cache: PackageCache, port: number, rest: string) => {
    const res = await fetch(`${cache.urlOf(port)}/-/go/${rest}`);
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  };

  it("hashes go.mod files and module zips as the checksum database does (Python's independent hashes)", () => {
    expect(hashGoMod(hello.mod)).toBe(hello.modSum);
    expect(goHash1(zipEntries(hello.zip, 1 << 20))).toBe(hello.zipSum);
    expect(() => zipEntries(Buffer.from('not a zip at all, not even close to one'), 1 << 20)).toThrow(
      /not a zip/,
    );
    expect(() => zipEntries(hello.zip, 10)).toThrow(/larger than 10 bytes/);
  });

  it('serves .mod and .zip verified against the database, then to another sandbox from the store alone', async () => {
    const cache = await newCache('shared');
    const one = await cache.openFor('sb-1', 'one');
    const two = await cache.openFor('sb-2', 'two');
    const mod = await get(cache, one, 'example.test/hello/@v/v1.0.0.mod');
    expect([mod.status, mod.body.equals(hello.mod)]).toEqual([200, true]);
    const zip = await get(cache, one, 'example.test/hello/@v/v1.0.0.zip');
    expect([zip.status, zip.body.equals(hello.zip)]).toEqual([200, true]);
    expect(up.requests).toContain('/sumdb/lookup/example.test/hello@v1.0.0');
    const before = up.requests.length;
    expect((await get(cache, two, 'example.test/hello/@v/v1.0.0.zip')).body.equals(hello.zip)).toBe(true);
    expect((await get(cache, two, 'example.test/hello/@v/v1.0.0.mod')).body.equals(hello.mod)).toBe(true);
    expect(up.requests.length).toBe(before);
    expect(await readdir(path.join(tmp, 'shared', 'blobs'))).toEqual(
      expect.arrayContaining([sha512(hello.zip), sha512(hello.mod)]),
    );
    expect(asked).toContain('two proxy.golang.org:443');
  });

  it('refuses a zip that does not hash to the recorded h1:, and a version the database has no record of', async () => {
    const cache = await newCache('refused');
    const port = await cache.openFor('sb-1', 'one');
    const evil = await get(cache, port, 'example.test/evil/@v/v1.0.0.zip');
    expect(evil.status).toBe(502);
    expect(JSON.parse(evil.body.toString())).toMatchObject({ code: 'PACKAGE_CACHE_INTEGRITY_MISMATCH' });
    expect(evil.body.toString()).toContain('the checksum database records h1:');
    const priv = await get(cache, port, 'example.test/private/@v/v1.0.0.zip');
    expect(priv.status).toBe(502);
    expect(priv.body.toString()).toContain('has no record of it');
    expect(await readdir(path.join(tmp, 'refused', 'blobs'))).toEqual([]);
    expect(await readdir(path.join(tmp, 'refused', 'tmp'))).toEqual([]);
    expect((await get(cache, port, 'example.test/nothing/@v/v1.0.0.mod')).status).toBe(404);
  });

  it('keeps the version list for the metadata TTL, and passes the checksum database through for the go command', async () => {
    const cache = await newCache('meta');
    const port = await cache.openFor('sb-1', 'one');
    const lists = () => up.requests.filter((r) => r === '/proxy/example.test/hello/@v/list').length;
    const n = lists();
    expect((await get(cache, port, 'example.test/hello/@v/list')).body.toString()).toBe('v1.0.0\n');
    await up.add('example.test/hello', 'v1.1.0', 'package hello\n');
    expect((await get(cache, port, 'example.test/hello/@v/list')).body.toString()).toBe('v1.0.0\n');
    clock += 301_000;
    expect((await get(cache, port, 'example.test/hello/@v/list')).body.toString()).toBe('v1.0.0\nv1.1.0\n');
    expect(lists()).toBe(n + 2);
    expect((await get(cache, port, 'sumdb/sum.golang.org/supported')).status).toBe(200);
    const lookup = await get(cache, port, 'sumdb/sum.golang.org/lookup/example.test/hello@v1.0.0');
    expect(lookup.body.toString()).toContain(`example.test/hello v1.0.0 ${hello.zipSum}`);
    expect(asked).toContain('one sum.golang.org:443');
    // Tiles (hash and data) are passed through as they are; the fake has none, so the database's 404 comes back.
    for (const tile of ['tile/8/0/x001/234', 'tile/8/data/x001/234.p/7']) {
      expect((await get(cache, port, `sumdb/sum.golang.org/${tile}`)).status).toBe(404);
      expect(up.requests).toContain(`/sumdb/${tile}`);
    }
    // Another database: 404, so the go command asks it itself (through the egress policy).
    expect((await get(cache, port, 'sumdb/sum.example.com/supported')).status).toBe(404);
    deny = 'sum.golang.org';
    const denied = await cache.openFor('sb-3', 'three');
    expect((await get(cache, denied, 'sumdb/sum.golang.org/supported')).status).toBe(403);
  });

  it('refuses paths outside the protocol, and points the go command at the cache with GOSUMDB left on', async () => {
    const cache = await newCache('paths');
    const port = await cache.openFor('sb-1', 'one');
    for (const bad of [
      'example.test/Hello/@v/v1.0.0.zip',
      'example.test/hello/@v/v1.0.0.tar',
      'example.test/hello/@v/..%2fv1.zip',
      'example.test/.hidden/@v/v1.0.0.zip',
      '/@v/list',
      'sumdb/sum.golang.org/lookup/x%2f..%2f..%2fy',
    ]) {
      const r = await get(cache, port, bad);
      expect([bad, r.status]).toEqual([bad, 400]);
    }
    const env = cache.envFor(port);
    expect(env['GOPROXY']).toBe(`${cache.urlOf(port)}/-/go`);
    for (const off of ['GOSUMDB', 'GONOSUMDB', 'GONOSUMCHECK', 'GOFLAGS', 'GOPRIVATE'])
      expect(env[off]).toBeUndefined();
  });
});
