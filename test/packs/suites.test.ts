/**
 * Debian suites of pack sources: the manifest schema accepts the base image's suite and bookworm-backports and
 * refuses any other (by file and line); a backports build gives apt both suites and asks for the listed packages
 * from backports (dependencies as apt resolves them), both directly and through the package cache; the package
 * cache's Debian side serves those suites (and other well-formed ones). The builder is a fake that records what apt
 * is given.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackageCache, PackageCacheConfig, type EgressDoor } from '../../src/package-cache/index.js';
import {
  DEBIAN_SUITES,
  PackRegistry,
  aptRequest,
  aptSourcesList,
  buildPack,
  parseManifest,
  type BuilderSandbox,
} from '../../src/packs/index.js';
import { quietLogger as quiet } from '../support/quiet-logger.js';

const manifest = (suite: string) => `name: demo
description: a demo pack
default: "1"
versions:
  "1":
    sources:
      debian:
${suite ? `        suite: ${suite}\n` : ''}        packages: [golang-1.23-go]
    smoke: [go, version]
`;

describe('Debian suites of pack sources', () => {
  it('accepts bookworm (the default) and bookworm-backports, and refuses any other suite at its line', () => {
    const plain = parseManifest('demo.yaml', manifest(''));
    expect(plain.problems).toEqual([]);
    expect(plain.manifest!.versions['1']!.sources.debian!.suite).toBe('bookworm');
    const bpo = parseManifest('demo.yaml', manifest('bookworm-backports'));
    expect(bpo.problems).toEqual([]);
    expect(bpo.manifest!.versions['1']!.sources.debian!.suite).toBe('bookworm-backports');
    for (const suite of ['trixie', 'sid', 'bullseye-backports', 'bookworm-updates']) {
      const bad = parseManifest('demo.yaml', manifest(suite));
      expect(bad.manifest).toBeUndefined();
      expect(bad.problems.map((p) => `${p.file}:${p.line}`)).toEqual(['demo.yaml:8']);
      expect(bad.problems[0]!.message).toContain('versions.1.sources.debian.suite');
      expect(bad.problems[0]!.message).toContain('one of bookworm, bookworm-backports');
    }
  });

  it('ships go@1.23 (the default) and go@1.22 from bookworm-backports, go@1.19 from bookworm', async () => {
    const reg = await PackRegistry.load(path.resolve('pack-registry'));
    expect(reg.problems).toEqual([]);
    const go = reg.resolve('go');
    expect(go.version).toBe('1.23');
    expect(go.spec.sources.debian).toEqual({ suite: 'bookworm-backports', packages: ['golang-1.23-go'] });
    expect(go.spec.env).toEqual({ GOROOT: '${prefix}/usr/lib/go-1.23', GOTOOLCHAIN: 'local' });
    expect(go.spec.path).toEqual(['${prefix}/usr/lib/go-1.23/bin']);
    expect(reg.resolve('go@1.22').spec.sources.debian?.suite).toBe('bookworm-backports');
    const old = reg.resolve('go@1.19');
    expect(old.spec.sources.debian).toEqual({ suite: 'bookworm', packages: ['golang-1.19-go'] });
    // Every shipped Debian source names a suite the schema offers.
    for (const m of reg.list())
      for (const v of Object.values(m.versions))
        if (v.sources.debian) expect(DEBIAN_SUITES).toContain(v.sources.debian.suite);
  });

  it('gives apt the base suite with a later one, and asks for the listed packages from the later one', () => {
    expect(aptSourcesList('bookworm', 'http://m/debian', '/k.gpg')).toBe(
      'deb [signed-by=/k.gpg] http://m/debian bookworm main\n',
    );
    expect(aptSourcesList('bookworm-backports', 'http://m/debian', '/k.gpg')).toBe(
      'deb [signed-by=/k.gpg] http://m/debian bookworm main\n' +
        'deb [signed-by=/k.gpg] http://m/debian bookworm-backports main\n',
    );
    expect(aptRequest('bookworm', ['jq'])).toEqual(['jq']);
    expect(aptRequest('bookworm-backports', ['a', 'b'])).toEqual([
      'a/bookworm-backports',
      'b/bookworm-backports',
    ]);
  });

  describe('a backports build in the builder sandbox', () => {
    let tmp: string;
    beforeAll(async () => {
      tmp = await mkdtemp(path.join(tmpdir(), 'aibox-packs-suites-'));
    });
    afterAll(async () => {
      await rm(tmp, { recursive: true, force: true });
    });

    /** Builds with a fake builder that records apt's sources and arguments and stops at the download. */
    const build = async (viaCache: boolean) => {
      const m = parseManifest('demo.yaml', manifest('bookworm-backports')).manifest!;
      const seen = { hosts: [] as string[], sources: '', simulate: [] as string[], download: [] as string[] };
      const keyring = path.join(tmp, 'cache-keyring.gpg');
      await writeFile(keyring, 'keyring bytes');
      const status = path.join(tmp, 'status');
      await writeFile(status, '');
      const cacheDir = path.join(tmp, viaCache ? 'cache-via' : 'cache-direct');
      const err = await buildPack(m, '1', m.versions['1']!, {
        cacheDir,
        baseStatus: status,
        uid: process.getuid!(),
        gid: process.getgid!(),
        ...(viaCache ? { debianCache: { keyring } } : {}),
        openBuilder: (scratch, hosts) => {
          seen.hosts = hosts;
          const builder: BuilderSandbox = {
            inside: scratch,
            npm: undefined,
            ...(viaCache ? { debianMirror: 'http://10.0.2.2:4100/-/debian' } : {}),
            async run(argv) {
              const list = argv.find((a) => a.startsWith('Dir::Etc::SourceList='))!.split('=')[1]!;
              if (argv.includes('update')) seen.sources = await readFile(list, 'utf8');
              if (argv.includes('-s')) {
                seen.simulate = argv.slice(argv.indexOf('install') + 1);
                return {
                  exitCode: 0,
                  stderr: '',
                  stdout:
                    "Selected version '1.23.5-1~bpo12+1' (Debian:12.12/bookworm-backports [amd64]) for 'golang-1.23-go'\n" +
                    'Inst golang-1.23-src (1.23.5-1~bpo12+1 Debian:12.12/bookworm-backports [all])\n' +
                    'Inst golang-1.23-go (1.23.5-1~bpo12+1 Debian:12.12/bookworm-backports [amd64])\n',
                };
              }
              if (argv.includes('download')) {
                seen.download = argv.slice(argv.indexOf('download') + 1);
                return { exitCode: 100, stdout: '', stderr: 'E: stopped by the test' };
              }
              return { exitCode: 0, stdout: '', stderr: '' };
            },
            close: () => Promise.resolve(),
          };
          return Promise.resolve(builder);
        },
      }).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err?.code).toBe('PACK_BUILD_FAILED');
      expect(err?.message).toContain('failed at download');
      return seen;
    };

    it('directly: the builder may reach deb.debian.org, apt has both suites of the archive', async () => {
      const seen = await build(false);
      expect(seen.hosts).toEqual(['deb.debian.org']);
      expect(seen.sources).toMatch(
        /^deb \[signed-by=\/usr\/share\/keyrings\/debian-archive-keyring\.gpg\] http:\/\/deb\.debian\.org\/debian bookworm main\ndeb \[signed-by=\/usr\/share\/keyrings\/debian-archive-keyring\.gpg\] http:\/\/deb\.debian\.org\/debian bookworm-backports main\n$/,
      );
      expect(seen.simulate).toEqual(['golang-1.23-go/bookworm-backports']);
      expect(seen.download).toEqual(['golang-1.23-src=1.23.5-1~bpo12+1', 'golang-1.23-go=1.23.5-1~bpo12+1']);
    });

    it("through the package cache: no Debian host in the builder's allowlist, both suites from the cache", async () => {
      const seen = await build(true);
      expect(seen.hosts).toEqual([]);
      const lines = seen.sources.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(
        /^deb \[signed-by=\S+\/apt\/keyring\.gpg\] http:\/\/10\.0\.2\.2:4100\/-\/debian bookworm main$/,
      );
      expect(lines[1]).toBe(lines[0]!.replace(/ bookworm main$/, ' bookworm-backports main'));
      expect(seen.simulate).toEqual(['golang-1.23-go/bookworm-backports']);
    });
  });

  describe("the package cache's Debian side", () => {
    let server: Server;
    let tmp: string;
    const asked: string[] = [];
    let cache: PackageCache;
    const door: EgressDoor = () => Promise.resolve({ id: 'dec_allow', outcome: 'allow', reason: 'ok' });

    beforeAll(async () => {
      // An archive that has nothing: what matters is which requests reach it.
      server = createServer((req, res) => {
        asked.push(req.url ?? '');
        res.writeHead(404).end('not found');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      tmp = await mkdtemp(path.join(tmpdir(), 'aibox-packs-suites-cache-'));
      const config = PackageCacheConfig.parse({
        enabled: true,
        sandboxHost: '127.0.0.1',
        debian: {
          upstream: `http://127.0.0.1:${(server.address() as AddressInfo).port}/debian`,
          policyHost: 'deb.debian.org',
        },
      });
      cache = new PackageCache({ config, dir: path.join(tmp, 'cache'), door, logger: quiet });
      await cache.init();
    });
    afterAll(async () => {
      await cache?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(tmp, { recursive: true, force: true });
    });

    it('asks the archive for the suites packs may use (and any other well-formed suite: its signature decides)', async () => {
      const port = await cache.openFor('sb-1', 'one');
      const get = (rest: string) => fetch(`${cache.urlOf(port)}/-/debian/${rest}`).then((r) => r.status);
      // Sandboxes may point apt at bookworm-updates too: the cache serves what a verified InRelease vouches for.
      for (const suite of [...DEBIAN_SUITES, 'bookworm-updates']) {
        expect(await get(`dists/${suite}/InRelease`)).toBe(404);
        expect(asked).toContain(`/debian/dists/${suite}/InRelease`);
      }
      const before = asked.length;
      for (const suite of ['Bookworm', 'book_worm'])
        expect([suite, await get(`dists/${suite}/InRelease`)]).toEqual([suite, 400]);
      expect(asked.length).toBe(before);
    });
  });
});
