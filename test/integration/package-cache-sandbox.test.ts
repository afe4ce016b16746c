/**
 * The shared package cache with a real aiboxd and real gVisor sandboxes: a loopback npm registry of `npm pack`
 * tarballs is the upstream (configured in aiboxd.yaml), each sandbox reaches the cache on its own gateway port
 * (10.0.2.2 from inside), `npm ci` of a real dependency tree runs in one sandbox, then in a second one that is served
 * from the cache without a single upstream request; a poisoned tarball is refused and not cached; a sandbox whose
 * egress policy refuses the registry gets a refusal with a decision id; nothing in the cache is writable from inside.
 */
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { FakeNpmRegistry, publishTree } from '../package-cache/fake-registry.js';
import { FakePypi } from '../package-cache/fake-pypi.js';

const run = requireHost(sandboxHostSupport(), 'package-cache-sandbox');

describe.skipIf(!run)('the shared package cache seen from gVisor sandboxes', () => {
  const registry = new FakeNpmRegistry();
  const index = new FakePypi();
  let daemon: TestDaemon;
  const endpoints: Record<string, string> = {};
  const sh = (name: string, script: string) => daemon.exec(name, ['sh', '-c', script]);
  const NPM = 'export npm_config_cache=/tmp/npm-cache npm_config_update_notifier=false; cd /workspace';

  beforeAll(async () => {
    await registry.start();
    const deps = await publishTree(registry, 2);
    await index.start();
    await index.addWheel('tinypkg', '1.0.0');
    daemon = await startTestDaemon({
      name: 'pkgcache',
      config: {
        packageCache: {
          enabled: true,
          npm: { upstream: registry.url, policyHost: 'registry.npmjs.org' },
          pypi: {
            upstream: index.url,
            files: index.url,
            policyHost: 'pypi.org',
            filesPolicyHost: 'files.pythonhosted.org',
          },
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    for (const name of ['npm1', 'npm2', 'npm3']) {
      const project = await makeProject(name);
      await writeFile(
        path.join(project, 'package.json'),
        JSON.stringify({ name, version: '1.0.0', dependencies: deps }, null, 2),
      );
      // The lockfile is made on the host against the registry itself, as a committed one would be.
      const lock = await execa(
        'npm',
        ['install', '--package-lock-only', '--no-audit', '--no-fund', '--registry', registry.url],
        { cwd: project, env: { npm_config_cache: path.join(daemon.dir, 'host-npm-cache') } },
      );
      expect(lock.exitCode, lock.stderr).toBe(0);
      if (name === 'npm3') {
        // This project narrows egress to github.com: the npm registry is no longer allowed for it.
        await mkdir(path.join(project, 'aibox'));
        await writeFile(path.join(project, 'aibox', 'policy.yaml'), 'network:\n  allow: [github.com]\n');
      }
      await execa('chown', ['-R', 'aibox:aibox', project]);
      const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      endpoints[name] = (created.body as { endpoints: Record<string, string> }).endpoints['package-cache']!;
      if (name !== 'npm3') {
        for (const ref of ['node', 'python']) {
          const pack = await daemon.api('POST', `/v1/sandboxes/${name}/packs`, { ref });
          expect(pack.status, JSON.stringify(pack.body)).toBeLessThan(300);
        }
      }
    }
    registry.requests.length = 0;
  }, 600_000);

  afterAll(async () => {
    await daemon?.stop();
    await registry.stop();
    await index.stop();
  });

  it('gives each sandbox its own cache endpoint, advertised in its environment', async () => {
    expect(endpoints['npm1']).toMatch(/^http:\/\/10\.0\.2\.2:\d+\/$/);
    expect(endpoints['npm2']).not.toBe(endpoints['npm1']);
    const env = await sh('npm1', 'echo "$npm_config_registry"');
    expect(env.stdout.trim()).toBe(`${endpoints['npm1']}`);
  });

  it("runs npm ci in one sandbox, and serves a second sandbox's npm ci from the cache alone", async () => {
    const first = await sh('npm1', `${NPM} && npm ci --no-audit --no-fund 2>&1`);
    expect(first.exitCode, first.stdout).toBe(0);
    const used = await sh('npm1', `cd /workspace && node -e 'console.log(require("aibox-web"))'`);
    expect(used.stdout.trim()).toBe('aibox-web@3.0.0');
    expect(registry.tarballHits()).toBe(5);
    const upstream = registry.requests.length;

    const second = await sh('npm2', `${NPM} && npm ci --no-audit --no-fund 2>&1`);
    expect(second.exitCode, second.stdout).toBe(0);
    const used2 = await sh('npm2', `cd /workspace && node -e 'console.log(require("@acme/log"))'`);
    expect(used2.stdout.trim()).toBe('@acme/log@2.0.0');
    expect(registry.requests.length).toBe(upstream);
  }, 300_000);

  it("serves a second sandbox's pip download from the cache, verified against the index's sha256", async () => {
    const pip = (name: string) =>
      sh(
        name,
        'cd /tmp && python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check -d /tmp/dl tinypkg==1.0.0 2>&1',
      );
    const first = await pip('npm1');
    expect(first.exitCode, first.stdout).toBe(0);
    expect(first.stdout).toContain('tinypkg-1.0.0-py3-none-any.whl');
    expect(index.fileHits()).toBe(1);
    const before = index.requests.length;
    const second = await pip('npm2');
    expect(second.exitCode, second.stdout).toBe(0);
    expect(index.requests.length).toBe(before);
  }, 120_000);

  it('refuses a poisoned upstream tarball and caches nothing of it', async () => {
    registry.add('aibox-evil', '1.0.0', Buffer.from('what the packument declares'));
    registry.poison('aibox-evil', '1.0.0');
    const blobs = path.join(daemon.stateDir, 'package-cache', 'blobs');
    const before = await readdir(blobs);
    const r = await sh(
      'npm2',
      `curl -sS --max-time 30 -w '\\n%{http_code}' "$AIBOX_PACKAGE_CACHE/aibox-evil/-/aibox-evil-1.0.0.tgz"`,
    );
    const [body, code] = r.stdout.trim().split('\n');
    expect(code).toBe('502');
    expect(JSON.parse(body!)).toMatchObject({ code: 'PACKAGE_CACHE_INTEGRITY_MISMATCH' });
    const npm = await sh(
      'npm2',
      `${NPM} && npm install --no-save --no-audit --no-fund --fetch-retries=0 aibox-evil@1.0.0 2>&1`,
    );
    expect(npm.exitCode).not.toBe(0);
    expect(npm.stdout).toContain('502');
    expect(await readdir(blobs)).toEqual(before);
    expect(await sh('npm2', 'test -e /workspace/node_modules/aibox-evil; echo $?')).toMatchObject({
      stdout: '1\n',
    });
  }, 120_000);

  it('refuses a sandbox whose egress policy does not allow the registry, with a decision id it can explain', async () => {
    const before = registry.requests.length;
    const r = await sh(
      'npm3',
      `curl -sS --max-time 30 -w '\\n%{http_code}' "$AIBOX_PACKAGE_CACHE/aibox-util"`,
    );
    const [body, code] = r.stdout.trim().split('\n');
    expect(code).toBe('403');
    const refusal = JSON.parse(body!) as { code: string; decision: string; error: string };
    expect(refusal.code).toBe('PACKAGE_CACHE_EGRESS_DENIED');
    expect(refusal.decision).toMatch(/^dec_[0-9a-f]+$/);
    expect(registry.requests.length).toBe(before);
    const explained = await daemon.cli(['policy', 'explain', '--log-entry', refusal.decision, '--json']);
    expect(explained.exitCode, explained.stderr).toBe(0);
    expect(JSON.parse(explained.stdout)).toMatchObject({ door: 'egress', outcome: 'deny', sandbox: 'npm3' });
  }, 60_000);

  it('cannot be written from any sandbox: no upload, no other port, no path to its files', async () => {
    const put = await sh(
      'npm1',
      `curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X PUT --data x "$AIBOX_PACKAGE_CACHE/aibox-util/-/aibox-util-1.0.0.tgz"`,
    );
    expect(put.stdout).toBe('405');
    // Another sandbox's cache port is closed to this one (its port is its identity).
    const other = await sh(
      'npm1',
      `curl -sS --max-time 5 -o /dev/null ${endpoints['npm2']}aibox-util; echo rc=$?`,
    );
    expect(other.stdout).not.toContain('rc=0');
    const dir = path.join(daemon.stateDir, 'package-cache');
    const seen = await sh('npm1', `ls ${dir} 2>&1; echo rc=$?`);
    expect(seen.stdout).not.toContain('rc=0');
    const top = await stat(dir);
    expect([top.uid, top.mode & 0o777]).toEqual([0, 0o700]);
    const blobs = await readdir(path.join(dir, 'blobs'));
    expect(blobs.length).toBeGreaterThanOrEqual(5);
    for (const b of blobs) {
      const st = await stat(path.join(dir, 'blobs', b));
      expect([st.uid, st.mode & 0o777]).toEqual([0, 0o444]);
    }
    expect((await readFile(path.join(dir, 'blobs', blobs[0]!))).length).toBeGreaterThan(0);
  }, 60_000);
});
