/**
 * The shared package cache's Debian side with a real aiboxd and real gVisor sandboxes: the archive is a loopback
 * fake whose InRelease is signed by a key made in the test (no real archive is reached), given to the daemon as the
 * cache's keyring and to apt in the sandbox as signed-by. The sandbox user (not root) runs apt-get update and
 * download with private state through its cache endpoint ($AIBOX_DEBIAN_MIRROR); a second sandbox is served
 * without a single upstream request; a tampered .deb is refused and stored nowhere. Also reports what writing
 * Maven's settings costs at sandbox start (the package-cache layer's `started` phase).
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { FakeDebian } from '../package-cache/fake-debian.js';

const run = requireHost(sandboxHostSupport(), 'package-cache-debian');

const APT = (args: string) =>
  [
    'd=/tmp/apt && mkdir -p $d/lists/partial $d/cache/archives/partial $d/out && : > $d/status',
    'echo "deb [signed-by=/workspace/archive-keyring.gpg] $AIBOX_DEBIAN_MIRROR bookworm main" > $d/sources.list',
    `cd $d/out && apt-get -q -o Dir::Etc::SourceList=$d/sources.list -o Dir::Etc::SourceParts=/dev/null ` +
      '-o Dir::State::Lists=$d/lists -o Dir::Cache=$d/cache -o Dir::State::status=$d/status ' +
      '-o Debug::NoLocking=1 -o Acquire::Languages=none -o Acquire::http::Proxy::10.0.2.2=DIRECT ' +
      `${args} 2>&1`,
  ].join(' && ');

describe.skipIf(!run)('the shared package cache serving apt in gVisor sandboxes', () => {
  const archive = new FakeDebian();
  let daemon: TestDaemon;
  let policyRepo: string;
  const hello = Buffer.from('!<arch>\nthe hello .deb served through the cache');
  const sh = (name: string, script: string) => daemon.exec(name, ['sh', '-c', script]);

  beforeAll(async () => {
    await archive.init();
    archive.addDeb('hello', '1.0-1', hello);
    archive.addDeb('evil', '1.0-1', Buffer.from('!<arch>\nhonest'));
    archive.poison('pool/main/e/evil/evil_1.0-1_amd64.deb');
    await archive.publish();
    await archive.start();
    policyRepo = await mkdtemp(path.join(tmpdir(), 'aibox-pkgcache-deb-'));
    await mkdir(path.join(policyRepo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(policyRepo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('egress', 'allow_domains := {"deb.debian.org"}');
    // The test projects live under /tmp.
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    daemon = await startTestDaemon({
      name: 'pkgcache-deb',
      config: {
        // Debug: the per-layer "start step" lines, for the start phase measured below.
        log: { level: 'debug' },
        policy: { repo: policyRepo },
        packageCache: {
          enabled: true,
          debian: { upstream: archive.url, keyring: archive.keyring, policyHost: 'deb.debian.org' },
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    for (const name of ['deb1', 'deb2']) {
      const project = await makeProject(name);
      await copyFile(archive.keyring, path.join(project, 'archive-keyring.gpg'));
      await execa('chown', ['-R', 'aibox:aibox', project]);
      const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
  }, 600_000);

  afterAll(async () => {
    await daemon?.stop();
    await archive.stop();
    if (policyRepo) await rm(policyRepo, { recursive: true, force: true });
  });

  it('runs apt-get update and download as the sandbox user through the cache, and a second sandbox from the store', async () => {
    const first = await sh(
      'deb1',
      `${APT('update')} && ${APT('download hello')} && cat $d/out/hello_1.0-1_amd64.deb`,
    );
    // A refusal's reason is in the daemon's log only (apt shows just the status): kept in the failure message.
    const refusals = async () =>
      (await daemon.log())
        .split('\n')
        .filter((l) => l.includes('package cache re'))
        .join('\n');
    expect(first.exitCode, first.stdout + first.stderr + (first.exitCode ? await refusals() : '')).toBe(0);
    expect(first.stdout).toContain(hello.toString().slice(8));
    expect(archive.hits('pool/main/h/hello/')).toBe(1);
    expect(archive.hits('dists/bookworm/InRelease')).toBe(1);
    const before = archive.requests.length;
    const second = await sh('deb2', `${APT('update')} && ${APT('download hello')} && ls $d/out`);
    expect(second.exitCode, second.stdout + second.stderr + (second.exitCode ? await refusals() : '')).toBe(
      0,
    );
    expect(second.stdout).toContain('hello_1.0-1_amd64.deb');
    expect(archive.requests.length).toBe(before);
  }, 300_000);

  it('refuses a tampered .deb and stores nothing of it', async () => {
    const blobs = path.join(daemon.stateDir, 'package-cache', 'blobs');
    const before = await readdir(blobs);
    const r = await sh('deb2', APT('download evil'));
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toMatch(/502|evil/);
    expect(await readdir(blobs)).toEqual(before);
    expect((await sh('deb2', 'ls /tmp/apt/out')).stdout).not.toContain('evil');
  }, 120_000);

  it("reports the package-cache layer's start phase (writing Maven's settings inside the sandbox)", async () => {
    const log = await readFile(path.join(daemon.dir, 'aiboxd.log'), 'utf8');
    const phases = log
      .split('\n')
      .filter((l) => l.includes('"start step"') && l.includes('"started:package-cache"'))
      .map((l) => (JSON.parse(l) as { ms?: number }).ms)
      .filter((v): v is number => typeof v === 'number');
    expect(phases.length).toBe(2);
    console.log('started:package-cache (ms) per sandbox:', phases.join(', '));
  });
});
