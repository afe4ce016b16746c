/**
 * The package cache's Maven side on the host, against a loopback Maven repository (Maven Central is not reachable
 * from this machine): artifacts verified against the repository's .sha256/.sha1 before they are stored and shared,
 * a tampered or unverifiable artifact refused with nothing kept, an aborted upstream transfer leaving no partial
 * file, maven-metadata.xml kept for the metadata TTL only, checksum files answered from what is served, path checks,
 * the egress door, and the settings file the sandbox gets.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MAVEN_SETTINGS_SCRIPT,
  mavenSettingsXml,
  PackageCache,
  PackageCacheConfig,
  parseMavenPath,
  type EgressDoor,
} from '../../src/package-cache/index.js';
import type { Logger } from '../../src/shared/index.js';
import { FakeMavenRepo } from './fake-maven.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const sha = (a: string, b: Buffer | string) => createHash(a).update(b).digest('hex');

describe('the shared package cache (Maven)', () => {
  const repo = new FakeMavenRepo();
  let tmp: string;
  const caches: PackageCache[] = [];
  const asked: { sandbox: string; host: string; port: number }[] = [];
  let deny = false;
  let clock = 1_000_000;
  const door: EgressDoor = (sandbox, req) => {
    asked.push({ sandbox, ...req });
    return Promise.resolve(
      deny
        ? { id: 'dec_00000000000000bb', outcome: 'deny', reason: `${req.host} is not allowed` }
        : { id: 'dec_allow', outcome: 'allow', reason: 'ok' },
    );
  };
  const jar = Buffer.from('PK\x03\x04 a jar of the greeter');

  beforeAll(async () => {
    await repo.start();
    repo.addArtifact('org.example', 'greeter', '1.0', jar);
    repo.addArtifact('org.example', 'evil', '1.0', Buffer.from('honest bytes'));
    repo.poison('org/example/evil/1.0/evil-1.0.jar');
    repo.addArtifact('org.example', 'unsigned', '1.0', Buffer.from('no checksum'));
    repo.withoutChecksums('org/example/unsigned/1.0/unsigned-1.0.jar');
    repo.add('org/example/greeter/maven-metadata.xml', '<metadata><version>1.0</version></metadata>');
    repo.addArtifact('org.example', 'snap', '1.0-SNAPSHOT', Buffer.from('snapshot one'));
    tmp = await mkdtemp(path.join(tmpdir(), 'aibox-mavencache-'));
  });
  afterEach(async () => {
    for (const c of caches.splice(0)) await c.close();
    deny = false;
  });
  afterAll(async () => {
    await repo.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  const newCache = async (name: string) => {
    const config = PackageCacheConfig.parse({
      enabled: true,
      sandboxHost: '127.0.0.1',
      maven: { upstream: repo.url, policyHost: 'repo.maven.apache.org' },
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
  const get = async (cache: PackageCache, port: number, file: string) => {
    const res = await fetch(`${cache.urlOf(port)}/-/maven2/${file}`);
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  };
  const blobsOf = (name: string) => readdir(path.join(tmp, name, 'blobs'));
  const GREETER = 'org/example/greeter/1.0/greeter-1.0.jar';

  it('serves a verified artifact, then serves it to another sandbox from the store alone', async () => {
    const cache = await newCache('shared');
    const one = await cache.openFor('sb-1', 'one');
    const two = await cache.openFor('sb-2', 'two');
    const first = await get(cache, one, GREETER);
    expect(first.status).toBe(200);
    expect(first.body.equals(jar)).toBe(true);
    expect(repo.requests).toContain(`/maven2/${GREETER}.sha256`);
    const upstream = repo.requests.length;
    const second = await get(cache, two, GREETER);
    expect(second.body.equals(jar)).toBe(true);
    expect(repo.requests.length).toBe(upstream);
    expect(await blobsOf('shared')).toContain(sha('sha512', jar));
    // The checksum files Maven asks for are answered from what was verified (no upstream request).
    for (const a of ['sha1', 'sha256', 'md5', 'sha512']) {
      const sum = await get(cache, two, `${GREETER}.${a}`);
      expect([sum.status, sum.body.toString()]).toEqual([200, sha(a, jar)]);
    }
    expect(repo.requests.length).toBe(upstream);
    // The egress door is asked for the repository's public host, per sandbox.
    expect(asked).toContainEqual({
      sandbox: 'two',
      host: 'repo.maven.apache.org',
      port: 443,
      method: 'GET',
    });
  });

  it('refuses an artifact whose bytes do not match the published checksum, and keeps nothing of it', async () => {
    const cache = await newCache('poisoned');
    const port = await cache.openFor('sb-1', 'one');
    const r = await get(cache, port, 'org/example/evil/1.0/evil-1.0.jar');
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'PACKAGE_CACHE_INTEGRITY_MISMATCH' });
    expect(await blobsOf('poisoned')).toEqual([]);
    expect(await readdir(path.join(tmp, 'poisoned', 'tmp'))).toEqual([]);
    // Its checksum files are not answered either: they would vouch for nothing.
    expect((await get(cache, port, 'org/example/evil/1.0/evil-1.0.jar.sha1')).status).toBe(502);
    // The pom next to it matches its own checksum and is served.
    expect((await get(cache, port, 'org/example/evil/1.0/evil-1.0.pom')).status).toBe(200);
  });

  it('refuses an artifact the repository publishes no checksum for, and 404s one it does not have', async () => {
    const cache = await newCache('unsigned');
    const port = await cache.openFor('sb-1', 'one');
    const r = await get(cache, port, 'org/example/unsigned/1.0/unsigned-1.0.jar');
    expect(r.status).toBe(502);
    expect(r.body.toString()).toContain('publishes no .sha256 or .sha1');
    expect(await blobsOf('unsigned')).toEqual([]);
    const missing = await get(cache, port, 'org/example/nothing/1.0/nothing-1.0.pom');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString())).toMatchObject({ code: 'PACKAGE_CACHE_NOT_FOUND' });
  });

  it('leaves no partial file when the upstream transfer breaks off, and fetches it whole the next time', async () => {
    repo.truncate(GREETER);
    const cache = await newCache('aborted');
    const port = await cache.openFor('sb-1', 'one');
    const r = await get(cache, port, GREETER);
    expect(r.status).toBe(502);
    expect(await blobsOf('aborted')).toEqual([]);
    expect(await readdir(path.join(tmp, 'aborted', 'tmp'))).toEqual([]);
    repo.truncate(GREETER, false);
    const again = await get(cache, port, GREETER);
    expect(again.status).toBe(200);
    expect(again.body.equals(jar)).toBe(true);
  });

  it('keeps maven-metadata.xml for the metadata TTL only, never in the content-addressed store', async () => {
    const cache = await newCache('metadata');
    const port = await cache.openFor('sb-1', 'one');
    const file = 'org/example/greeter/maven-metadata.xml';
    const fetches = () => repo.requests.filter((r) => r === `/maven2/${file}`).length;
    const before = fetches();
    const first = await get(cache, port, file);
    expect(first.body.toString()).toContain('<version>1.0</version>');
    expect((await get(cache, port, `${file}.sha1`)).body.toString()).toBe(sha('sha1', first.body));
    repo.add(file, '<metadata><version>1.0</version><version>1.1</version></metadata>');
    expect((await get(cache, port, file)).body.toString()).not.toContain('1.1');
    expect(fetches()).toBe(before + 1);
    clock += 301_000;
    expect((await get(cache, port, file)).body.toString()).toContain('1.1');
    expect(fetches()).toBe(before + 2);
    expect(await blobsOf('metadata')).toEqual([]);
  });

  it('fetches the files of a -SNAPSHOT version again once the metadata TTL has passed', async () => {
    const cache = await newCache('snapshot');
    const port = await cache.openFor('sb-1', 'one');
    const file = 'org/example/snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar';
    expect((await get(cache, port, file)).body.toString()).toBe('snapshot one');
    repo.add(file, 'snapshot two');
    expect((await get(cache, port, file)).body.toString()).toBe('snapshot one');
    clock += 301_000;
    expect((await get(cache, port, file)).body.toString()).toBe('snapshot two');
  });

  it('refuses paths outside the repository layout, and a sandbox whose policy refuses the repository', async () => {
    const cache = await newCache('paths');
    const port = await cache.openFor('sb-1', 'one');
    for (const bad of [
      'org/example/../../etc/passwd',
      'org/example/greeter/1.0/..%2f..%2fx.jar',
      'org%2fexample/greeter/1.0/greeter-1.0.jar',
      'greeter-1.0.jar',
      'org/greeter-1.0.jar',
      'org//example/greeter/1.0/greeter-1.0.jar',
    ]) {
      const r = await get(cache, port, bad);
      expect([bad, r.status]).toEqual([bad, 400]);
    }
    expect(() => parseMavenPath('a/.hidden')).toThrow(/not a Maven repository path/);
    expect(parseMavenPath('org/example/greeter/1.0/greeter-1.0.jar')).toHaveLength(5);
    const before = repo.requests.length;
    deny = true;
    const other = await cache.openFor('sb-2', 'two');
    const r = await get(cache, other, GREETER);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body.toString())).toMatchObject({
      code: 'PACKAGE_CACHE_EGRESS_DENIED',
      decision: 'dec_00000000000000bb',
    });
    expect(repo.requests.length).toBe(before);
    const put = await fetch(`${cache.urlOf(port)}/-/maven2/${GREETER}`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
  });

  it("writes ~/.m2/settings.xml with a mirror to the sandbox's endpoint, and never over the user's own", async () => {
    const home = path.join(tmp, 'home');
    const write = () =>
      execa('sh', ['-c', MAVEN_SETTINGS_SCRIPT, 'sh', mavenSettingsXml()], { env: { HOME: home } });
    await write();
    const file = path.join(home, '.m2', 'settings.xml');
    const ours = await readFile(file, 'utf8');
    expect(ours).toContain('<mirrorOf>*</mirrorOf>');
    expect(ours).toContain('<url>${env.AIBOX_PACKAGE_CACHE}/-/maven2</url>');
    // Ours again (a newer aibox): rewritten; the user's own: left alone.
    await writeFile(file, ours.replace('aibox shared package cache', 'old'));
    await write();
    expect(await readFile(file, 'utf8')).toBe(ours);
    await writeFile(file, '<settings/>\n');
    await write();
    expect(await readFile(file, 'utf8')).toBe('<settings/>\n');
    expect((await readdir(path.join(home, '.m2'))).sort()).toEqual(['settings.xml']);
  });
});
