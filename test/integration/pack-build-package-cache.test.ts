/**
 * Pack builds fetch their Debian sources through the host's package cache when it is on, with a real aiboxd and the
 * real gVisor builder sandbox. The archive is a loopback fake (test/package-cache/fake-debian.ts) whose InRelease is
 * signed by a key made in the test: the daemon's packageCache.debian.keyring, which the cache checks InRelease with
 * and apt in the builder checks everything with again. Its .debs are real ones made here with dpkg-deb. The daemon
 * reads its packs from the test's own registry folder (packs.registryDir).
 *
 * - a build is served by the cache: the builder's proxy is allowed no Debian host at all, and the archive sees the
 *   index and each .deb requested once;
 * - a second pack sharing a package is built from the cache's store: no upstream request for the shared .deb or the
 *   index;
 * - a .deb whose bytes do not match the signed index is refused by the cache: the build fails, nothing is sealed.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { FakeDebian } from '../package-cache/fake-debian.js';

const run = requireHost(sandboxHostSupport(), 'pack-build-package-cache');
const PACK_CACHE = '/var/cache/aibox/packs';

describe.skipIf(!run)('pack builds through the package cache', () => {
  const archive = new FakeDebian();
  let daemon: TestDaemon;
  let work: string;

  /** A real .deb holding one file, /usr/share/aibox-test/NAME.txt. */
  const deb = async (name: string): Promise<Buffer> => {
    const root = path.join(work, 'debs', name);
    await mkdir(path.join(root, 'DEBIAN'), { recursive: true });
    await mkdir(path.join(root, 'usr/share/aibox-test'), { recursive: true });
    await writeFile(
      path.join(root, 'DEBIAN/control'),
      `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: aibox tests <t@example.test>\nDescription: a test package\n`,
    );
    await writeFile(path.join(root, `usr/share/aibox-test/${name}.txt`), `${name} through the cache\n`);
    const out = path.join(work, 'debs', `${name}.deb`);
    await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, out]);
    return readFile(out);
  };
  const pack = (name: string, packages: string[]) =>
    writeFile(
      path.join(work, 'registry', `${name}.yaml`),
      `name: ${name}
description: a test pack built through the package cache
default: '1'
versions:
  '1':
    sources:
      debian:
        packages: [${packages.join(', ')}]
    smoke: ['true']
`,
    );
  const builderHosts = async () =>
    (await daemon.log())
      .split('\n')
      .filter((l) => l.includes('pack builder sandbox up'))
      .map((l) => (JSON.parse(l) as { hosts: string[] }).hosts);

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'aibox-pack-debcache-'));
    await archive.init();
    for (const name of ['aibox-pkc-a', 'aibox-pkc-b', 'aibox-pkc-common', 'aibox-pkc-evil'])
      archive.addDeb(name, '1.0-1', await deb(name));
    archive.poison('pool/main/a/aibox-pkc-evil/aibox-pkc-evil_1.0-1_amd64.deb');
    await archive.publish();
    await archive.start();
    await mkdir(path.join(work, 'registry'));
    await pack('pkc-a', ['aibox-pkc-a', 'aibox-pkc-common']);
    await pack('pkc-b', ['aibox-pkc-b', 'aibox-pkc-common']);
    await pack('pkc-evil', ['aibox-pkc-evil']);
    daemon = await startTestDaemon({
      name: 'pack-debcache',
      config: {
        packs: { registryDir: path.join(work, 'registry') },
        packageCache: {
          enabled: true,
          debian: { upstream: archive.url, keyring: archive.keyring, policyHost: 'deb.debian.org' },
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    // The artifacts went into the host's shared pack cache: take them out again.
    for (const name of ['pkc-a', 'pkc-b']) await daemon?.cli(['pack', 'rm', name]);
    await daemon?.stop();
    await archive.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds a pack with its index and .debs fetched by the cache, the builder allowed no Debian host', async () => {
    const r = await daemon.cli(['pack', 'build', 'pkc-a', '--force', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout) as { built: { debs: string[]; dir: string; key: string } };
    expect(done.built.debs.sort()).toEqual(['aibox-pkc-a=1.0-1', 'aibox-pkc-common=1.0-1']);
    expect(
      await readFile(path.join(done.built.dir, 'usr/share/aibox-test/aibox-pkc-common.txt'), 'utf8'),
    ).toBe('aibox-pkc-common through the cache\n');
    // Not through the proxy: its allowlist is empty, the cache's listener is the only way to the archive.
    expect(await builderHosts()).toEqual([[]]);
    expect(archive.hits('dists/bookworm/InRelease')).toBe(1);
    expect(archive.hits('pool/main/a/aibox-pkc-a/')).toBe(1);
    expect(archive.hits('pool/main/a/aibox-pkc-common/')).toBe(1);
  }, 300_000);

  it('builds a second pack sharing a package from the store: no upstream request for it or the index', async () => {
    const before = archive.requests.length;
    const r = await daemon.cli(['pack', 'build', 'pkc-b', '--force', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout) as { built: { debs: string[]; dir: string } };
    expect(done.built.debs.sort()).toEqual(['aibox-pkc-b=1.0-1', 'aibox-pkc-common=1.0-1']);
    expect(await readFile(path.join(done.built.dir, 'usr/share/aibox-test/aibox-pkc-b.txt'), 'utf8')).toBe(
      'aibox-pkc-b through the cache\n',
    );
    expect(archive.requests.slice(before)).toEqual([
      '/debian/pool/main/a/aibox-pkc-b/aibox-pkc-b_1.0-1_amd64.deb',
    ]);
    expect(archive.hits('pool/main/a/aibox-pkc-common/')).toBe(1);
  }, 300_000);

  it('refuses a .deb whose bytes do not match the signed index: the build fails and nothing is sealed', async () => {
    const r = await daemon.cli(['pack', 'build', 'pkc-evil', '--force']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('PACK_BUILD_FAILED');
    expect(r.stderr).toContain('failed at download');
    expect(archive.hits('pool/main/a/aibox-pkc-evil/')).toBeGreaterThan(0);
    expect((await readdir(PACK_CACHE)).filter((d) => d.startsWith('pkc-evil@'))).toEqual([]);
    const log = await daemon.log();
    expect(log).toContain('package cache refused a request');
  }, 300_000);
});
