/**
 * A pack from a later Debian suite built for the base image, end to end with a real aiboxd and real gVisor
 * sandboxes: go@1.23 (the go pack's default) from bookworm-backports, built from Debian's archive like the other
 * shipped packs (packs.test.ts), once with the builder reaching deb.debian.org through its proxy and once through
 * the host's package cache (the builder allowed no Debian host); both give the same artifact key. Installed in a
 * running sandbox, `go version` says go1.23 and a module whose go.mod says `go 1.22` builds and runs with no
 * network (GOPROXY=off: it has no dependencies).
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'packs-go');

interface Built {
  built: { key: string; debs: string[]; version: string };
}

describe.skipIf(!run)('go@1.23 from bookworm-backports in real gVisor sandboxes', () => {
  let daemon: TestDaemon;
  let repo: string;
  let config: Record<string, unknown>;
  let directKey = '';
  const timings: Record<string, number> = {};
  const sh = (script: string) => daemon.exec('gobox', ['sh', '-c', script]);
  /** The hosts the last pack builder's proxy was allowed. */
  const builderHosts = async () =>
    (await daemon.log())
      .split('\n')
      .filter((l) => l.includes('pack builder sandbox up'))
      .map((l) => (JSON.parse(l) as { hosts: string[] }).hosts)
      .at(-1);

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-packs-go-'));
    await mkdir(path.join(repo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(repo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('packs', 'allowed := ["go"]');
    // The pack's run-time needs pass the egress door only when the org allows them (the module below uses neither).
    await rego('egress', 'allow_domains := {"proxy.golang.org", "sum.golang.org"}');
    // The test projects live under /tmp.
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    config = { policy: { repo } };
    daemon = await startTestDaemon({ name: 'packs-go', config });
    const setup = await daemon.cli(['setup', '--json']);
    expect(setup.exitCode, setup.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', {
      path: await makeProject('packs-go'),
      name: 'gobox',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 300_000);

  afterAll(async () => {
    if (Object.keys(timings).length) console.log('packs-go timings (ms):', JSON.stringify(timings));
    await daemon?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('builds go@1.23 from bookworm-backports directly; go version and a go 1.22 module build in the sandbox', async () => {
    let t = Date.now();
    const build = await daemon.cli(['pack', 'build', 'go@1.23', '--force', '--json']);
    timings['build, direct'] = Date.now() - t;
    expect(build.exitCode, build.stderr).toBe(0);
    const { built } = JSON.parse(build.stdout) as Built;
    expect(await builderHosts()).toEqual(['deb.debian.org']);
    // The listed package and its backports-only dependency come from backports; nothing the base image has.
    expect(built.debs.find((d) => d.startsWith('golang-1.23-go='))).toMatch(/~bpo12\+\d+$/);
    expect(built.debs.find((d) => d.startsWith('golang-1.23-src='))).toMatch(/~bpo12\+\d+$/);
    expect(built.debs.some((d) => d.startsWith('libc6='))).toBe(false);
    directKey = built.key;

    // `go` alone is the default: 1.23.
    t = Date.now();
    const install = await daemon.cli(['install', 'go', '--sandbox', 'gobox', '--json']);
    timings['install from the pack cache'] = Date.now() - t;
    expect(install.exitCode, install.stderr).toBe(0);
    const version = await sh('go version && go env GOROOT GOTOOLCHAIN');
    expect(version.exitCode, version.stderr).toBe(0);
    const [line, goroot, toolchain] = version.stdout.trim().split('\n');
    expect(line).toMatch(/^go version go1\.23\.\d+ linux\/amd64$/);
    expect([goroot, toolchain]).toEqual(['/opt/aibox/packs/go/usr/lib/go-1.23', 'local']);

    t = Date.now();
    const app = await sh(
      [
        'mkdir -p /tmp/tiny && cd /tmp/tiny',
        "printf 'module tiny\\n\\ngo 1.22\\n' > go.mod",
        // 1.22 semantics: each loop iteration has its own variable.
        'printf \'package main\\n\\nimport "fmt"\\n\\nfunc main() {\\n\\tvar fs []func() int\\n\\tfor i := range 3 {\\n\\t\\tfs = append(fs, func() int { return i })\\n\\t}\\n\\tfmt.Println("tiny", fs[0](), fs[1](), fs[2]())\\n}\\n\' > main.go',
        'GOPROXY=off GOFLAGS=-mod=mod go build -o tiny . 2>&1 && ./tiny',
      ].join(' && '),
    );
    timings['go build of the tiny module (cold build cache)'] = Date.now() - t;
    expect(app.exitCode, app.stdout + app.stderr).toBe(0);
    expect(app.stdout.trim()).toBe('tiny 0 1 2');
  }, 900_000);

  it('builds it through the package cache too (the builder allowed no Debian host): the same artifact key', async () => {
    // Same daemon state, the package cache turned on.
    await daemon.crash();
    await writeFile(
      path.join(daemon.dir, 'aiboxd.yaml'),
      stringify({ ...config, sshGateway: { port: 0 }, packageCache: { enabled: true } }),
    );
    await daemon.restart();
    let t = Date.now();
    const build = await daemon.cli(['pack', 'build', 'go@1.23', '--force', '--json']);
    timings['build, through the package cache (cold)'] = Date.now() - t;
    expect(build.exitCode, build.stderr).toBe(0);
    const { built } = JSON.parse(build.stdout) as Built;
    expect(await builderHosts()).toEqual([]);
    expect(built.key).toBe(directKey);
    // The cache fetched and verified both suites' indexes and the .debs (and keeps them for the next build).
    const blobs = await readdir(path.join(daemon.stateDir, 'package-cache', 'blobs'));
    expect(blobs.length).toBeGreaterThanOrEqual(4);
    t = Date.now();
    const again = await daemon.cli(['pack', 'build', 'go@1.23', '--force', '--json']);
    timings['build, through the package cache (warm)'] = Date.now() - t;
    expect(again.exitCode, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Built).built.key).toBe(directKey);
    // The sandbox still runs go from the artifact it had (re-adopted).
    const version = await sh('go version');
    expect(version.stdout).toMatch(/go1\.23\./);
  }, 900_000);
});
