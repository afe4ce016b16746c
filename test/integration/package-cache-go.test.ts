/**
 * The shared package cache's Go module side with a real aiboxd and real gVisor sandboxes (the go pack). The module
 * proxy and checksum database are loopback fakes (proxy.golang.org and sum.golang.org are not reachable from this
 * machine). Each sandbox's GOPROXY is its cache endpoint: `go build` of a module with a committed go.sum fetches its
 * dependency through the cache (checked there against the database's h1: record, and by the go command against
 * go.sum), a second sandbox builds without a single upstream request, and a planted module zip is refused and
 * stored nowhere.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { FakeGoProxy } from '../package-cache/fake-go.js';

const run = requireHost(sandboxHostSupport(), 'package-cache-go');

describe.skipIf(!run)('the shared package cache serving Go modules to gVisor sandboxes', () => {
  const up = new FakeGoProxy();
  let daemon: TestDaemon;
  let policyRepo: string;
  let app = '';
  const sh = (name: string, script: string) => daemon.exec(name, ['sh', '-c', script]);
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    await up.start();
    const hello = await up.add(
      'example.test/hello',
      'v1.0.0',
      'package hello\n\nfunc Hello() string { return "hello through the cache" }\n',
    );
    await up.add('example.test/evil', 'v1.0.0', 'package evil\n');
    await up.poison('example.test/evil', 'v1.0.0');
    // A module with its go.sum committed, as a real one would be.
    const files = {
      'go.mod': 'module demo\n\ngo 1.19\n\nrequire example.test/hello v1.0.0\n',
      'go.sum': `example.test/hello v1.0.0 ${hello.zipSum}\nexample.test/hello v1.0.0/go.mod ${hello.modSum}\n`,
      'main.go':
        'package main\n\nimport (\n\t"fmt"\n\t"example.test/hello"\n)\n\nfunc main() { fmt.Println(hello.Hello()) }\n',
    };
    app = [
      'mkdir -p /tmp/app && cd /tmp/app',
      ...Object.entries(files).map(([f, c]) => `printf '%s' '${c}' > ${f}`),
    ].join(' && ');
    policyRepo = await mkdtemp(path.join(tmpdir(), 'aibox-pkgcache-go-'));
    await mkdir(path.join(policyRepo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(policyRepo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('packs', 'allowed := ["go"]');
    await rego('egress', 'allow_domains := {"proxy.golang.org", "sum.golang.org"}');
    // The test projects live under /tmp.
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    daemon = await startTestDaemon({
      name: 'pkgcache-go',
      config: {
        policy: { repo: policyRepo },
        packageCache: {
          enabled: true,
          go: {
            upstream: up.url,
            sumdb: up.sumdbUrl,
            policyHost: 'proxy.golang.org',
            sumdbPolicyHost: 'sum.golang.org',
          },
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    for (const name of ['go1', 'go2']) {
      const created = await daemon.api('POST', '/v1/sandboxes', { path: await makeProject(name), name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const install = await daemon.cli(['install', 'go', '--sandbox', name]);
      expect(install.exitCode, install.stderr).toBe(0);
    }
  }, 900_000);

  afterAll(async () => {
    await daemon?.stop();
    await up.stop();
    if (policyRepo) await rm(policyRepo, { recursive: true, force: true });
    if (Object.keys(timings).length) console.log('package-cache-go timings (ms):', JSON.stringify(timings));
  });

  it('builds a module whose dependency comes through the cache, then a second sandbox without upstream requests', async () => {
    const env = await sh('go1', 'echo "$GOPROXY|$GOSUMDB|$GONOSUMDB"');
    expect(env.stdout.trim()).toMatch(/^http:\/\/10\.0\.2\.2:\d+\/-\/go\|\|$/);
    let t = Date.now();
    const first = await sh('go1', `${app} && go build -o app . 2>&1 && ./app`);
    timings['go build, cache cold'] = Date.now() - t;
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('hello through the cache');
    expect(up.hits('/example.test/hello/@v/v1.0.0.zip')).toBe(1);
    const upstream = up.requests.length;

    t = Date.now();
    const second = await sh('go2', `${app} && go build -o app . 2>&1 && ./app`);
    timings['go build, cache warm (second sandbox)'] = Date.now() - t;
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain('hello through the cache');
    expect(up.requests.length).toBe(upstream);
  }, 600_000);

  it('refuses a module zip that does not hash to the checksum database record, and stores nothing of it', async () => {
    const blobs = path.join(daemon.stateDir, 'package-cache', 'blobs');
    const before = await readdir(blobs);
    const curl = await sh(
      'go2',
      `curl -sS --max-time 30 -w '\\n%{http_code}' "$GOPROXY/example.test/evil/@v/v1.0.0.zip"`,
    );
    const [body, code] = curl.stdout.trim().split('\n');
    expect(code).toBe('502');
    expect(JSON.parse(body!)).toMatchObject({ code: 'PACKAGE_CACHE_INTEGRITY_MISMATCH' });
    const dl = await sh(
      'go2',
      'cd /tmp/app && GONOSUMDB=example.test go mod download example.test/evil@v1.0.0 2>&1',
    );
    expect(dl.exitCode).not.toBe(0);
    expect(dl.stdout).toContain('502');
    const after = await readdir(blobs);
    // Only its go.mod (which matched its record) may have been added.
    expect(after.filter((b) => !before.includes(b)).length).toBeLessThanOrEqual(1);
    const kept = await sh('go2', 'ls "$(go env GOMODCACHE)/example.test/" 2>&1');
    expect(kept.stdout).not.toContain('evil@v1.0.0');
  }, 300_000);
});
