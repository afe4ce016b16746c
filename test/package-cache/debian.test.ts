/**
 * The package cache's Debian side on the host, against a loopback archive whose InRelease is signed by a key made
 * in the test (no real archive is reached), with the host's apt-get as the client (private lists, `apt-get update`
 * and `apt-get download` through the cache, the test key as signed-by): InRelease checked with gpgv before it is
 * served, index files against its SHA256 list (by-hash too), .debs against the verified Packages index; a foreign
 * signature, a tampered index or .deb, and an unlisted pool file refused with nothing kept; a restarted cache still
 * verifies pool files from the indexes it stored.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PackageCache,
  PackageCacheConfig,
  parsePackages,
  type EgressDoor,
} from '../../src/package-cache/index.js';
import type { Logger } from '../../src/shared/index.js';
import { FakeDebian } from './fake-debian.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

describe('the shared package cache (Debian)', () => {
  const archive = new FakeDebian();
  let tmp: string;
  const caches: PackageCache[] = [];
  const door: EgressDoor = () => Promise.resolve({ id: 'dec_allow', outcome: 'allow', reason: 'ok' });
  const hello = Buffer.from('!<arch>\na .deb of hello');
  const later = Buffer.from('!<arch>\na .deb fetched after a restart');
  let helloFile = '';
  let laterFile = '';

  beforeAll(async () => {
    await archive.init();
    helloFile = archive.addDeb('hello', '1.0-1', hello);
    laterFile = archive.addDeb('later', '2.0-1', later);
    archive.addDeb('evil', '1.0-1', Buffer.from('!<arch>\nhonest'));
    archive.poison('pool/main/e/evil/evil_1.0-1_amd64.deb');
    await archive.publish();
    await archive.start();
    tmp = await mkdtemp(path.join(tmpdir(), 'aibox-debcache-'));
  }, 60_000);
  afterEach(async () => {
    for (const c of caches.splice(0)) await c.close();
  });
  afterAll(async () => {
    await archive.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  const newCache = async (name: string) => {
    const config = PackageCacheConfig.parse({
      enabled: true,
      sandboxHost: '127.0.0.1',
      debian: { upstream: archive.url, keyring: archive.keyring, policyHost: 'deb.debian.org' },
    });
    const cache = new PackageCache({ config, dir: path.join(tmp, name), door, logger: quiet });
    await cache.init();
    caches.push(cache);
    return cache;
  };
  const get = async (cache: PackageCache, port: number, rest: string) => {
    const res = await fetch(`${cache.urlOf(port)}/-/debian/${rest}`);
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  };
  /** apt-get as a sandbox would run it: private state, the cache as the only source, the test key as signed-by. */
  const apt = async (cache: PackageCache, port: number, dir: string, args: string[]) => {
    for (const d of ['lists/partial', 'cache/archives/partial', 'out'])
      await mkdir(path.join(dir, d), { recursive: true });
    await writeFile(
      path.join(dir, 'sources.list'),
      `deb [signed-by=${archive.keyring}] ${cache.envFor(port)['AIBOX_DEBIAN_MIRROR']} ${archive.suite} main\n`,
    );
    await writeFile(path.join(dir, 'status'), '');
    const opts = [
      ['Dir::Etc::SourceList', path.join(dir, 'sources.list')],
      ['Dir::Etc::SourceParts', '/dev/null'],
      ['Dir::State::Lists', path.join(dir, 'lists')],
      ['Dir::Cache', path.join(dir, 'cache')],
      ['Dir::State::status', path.join(dir, 'status')],
      ['Debug::NoLocking', '1'],
      ['APT::Architecture', 'amd64'],
      ['APT::Architectures', 'amd64'],
      ['APT::Sandbox::User', 'root'],
      ['Acquire::Languages', 'none'],
    ].flatMap(([k, v]) => ['-o', `${k}=${v}`]);
    return execa('apt-get', [...opts, '-q', ...args], { cwd: path.join(dir, 'out'), reject: false });
  };

  it('serves apt update and download through the cache, verified, and a second client from the store alone', async () => {
    const cache = await newCache('shared');
    const one = await cache.openFor('sb-1', 'one');
    const update = await apt(cache, one, path.join(tmp, 'apt1'), ['update']);
    expect(update.exitCode, update.stdout + update.stderr).toBe(0);
    const dl = await apt(cache, one, path.join(tmp, 'apt1'), ['download', 'hello']);
    expect(dl.exitCode, dl.stdout + dl.stderr).toBe(0);
    expect(await readFile(path.join(tmp, 'apt1', 'out', 'hello_1.0-1_amd64.deb'))).toEqual(hello);
    expect(archive.hits(helloFile)).toBe(1);
    expect(await readdir(path.join(tmp, 'shared', 'blobs'))).toContain(sha512(hello));

    const two = await cache.openFor('sb-2', 'two');
    const before = archive.requests.length;
    const update2 = await apt(cache, two, path.join(tmp, 'apt2'), ['update']);
    expect(update2.exitCode, update2.stderr).toBe(0);
    const dl2 = await apt(cache, two, path.join(tmp, 'apt2'), ['download', 'hello']);
    expect(dl2.exitCode, dl2.stderr).toBe(0);
    // Within the TTL not even InRelease is asked again; index and .deb come from the store.
    expect(archive.requests.slice(before)).toEqual([]);
  }, 120_000);

  it('refuses a tampered .deb and a pool file no verified index lists, keeping nothing', async () => {
    const cache = await newCache('tampered');
    const port = await cache.openFor('sb-1', 'one');
    expect((await get(cache, port, `dists/${archive.suite}/InRelease`)).status).toBe(200);
    const unlisted = await get(cache, port, helloFile);
    expect(unlisted.status).toBe(502);
    expect(unlisted.body.toString()).toContain('listed in no Packages index');
    expect(archive.hits(helloFile)).toBe(1);
    const idx = await get(cache, port, `dists/${archive.suite}/main/binary-amd64/Packages.xz`);
    expect(idx.status).toBe(200);
    expect(parsePackages((await execa('xz', ['-dc'], { input: idx.body })).stdout).get(helloFile)).toMatch(
      /^[0-9a-f]{64}$/,
    );
    const evil = await get(cache, port, 'pool/main/e/evil/evil_1.0-1_amd64.deb');
    expect(evil.status).toBe(502);
    expect(JSON.parse(evil.body.toString())).toMatchObject({ code: 'PACKAGE_CACHE_INTEGRITY_MISMATCH' });
    const blobs = await readdir(path.join(tmp, 'tampered', 'blobs'));
    expect(blobs).toHaveLength(1); // the Packages.xz only
    expect(await readdir(path.join(tmp, 'tampered', 'tmp'))).toEqual([]);
    expect((await get(cache, port, `dists/${archive.suite}/main/binary-amd64/Contents-amd64`)).status).toBe(
      404,
    );
    expect((await get(cache, port, `dists/${archive.suite}/Release`)).status).toBe(404);
    for (const bad of ['dists/../x', 'etc/passwd', 'pool/x']) {
      expect([bad, (await get(cache, port, bad)).status]).toEqual([bad, 400]);
    }
  });

  it('still verifies pool files after a restart, from the Packages indexes it stored', async () => {
    const first = await newCache('restart');
    const port = await first.openFor('sb-1', 'one');
    expect((await get(first, port, `dists/${archive.suite}/main/binary-amd64/Packages.gz`)).status).toBe(200);
    await first.close();
    caches.splice(caches.indexOf(first), 1);
    const again = await newCache('restart');
    const p2 = await again.openFor('sb-1', 'one');
    const r = await get(again, p2, laterFile);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(later);
  });

  it('refuses an InRelease signed by a key outside the keyring, and keeps nothing of the suite', async () => {
    await archive.publish('other');
    try {
      const cache = await newCache('foreign');
      const port = await cache.openFor('sb-1', 'one');
      const r = await get(cache, port, `dists/${archive.suite}/InRelease`);
      expect(r.status).toBe(502);
      expect(r.body.toString()).toContain('has no valid signature');
      expect((await get(cache, port, `dists/${archive.suite}/main/binary-amd64/Packages`)).status).toBe(502);
      expect(await readdir(path.join(tmp, 'foreign', 'meta'))).toEqual([]);
      expect(await readdir(path.join(tmp, 'foreign', 'blobs'))).toEqual([]);
    } finally {
      await archive.publish();
    }
  });
});
