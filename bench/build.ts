/**
 * bench/build: `npm ci` of a real dependency tree, on the host and inside a gVisor sandbox in the same run, cold and
 * warm. The tree (default: express@4.21.2 and its ~65 dependencies) is mirrored once from registry.npmjs.org into a
 * loopback registry (test/package-cache/fake-registry.ts): every install then reads from the loopback registry,
 * so the figures measure npm, the cache and the sandbox, not the internet.
 *   host cold      empty npm cache (~/.npm), tarballs from the loopback registry
 *   host warm      npm's own cache warm (node_modules removed)
 *   sandbox cold   the shared package cache emptied first: every tarball fetched, verified and stored by aiboxd
 *   sandbox warm   the shared cache warm, the sandbox's own npm cache empty (a second sandbox's first install)
 *   sandbox warm+  both warm (the same sandbox installing again)
 *   sandbox /tmp   shared cache warm, installing in /tmp instead of the workspace (the host folder mount's cost)
 * Goal: sandbox warm ≤ 1.5× host cold (the same situation: a local registry, an empty npm cache).
 * Then the same rows for a Maven build (bench/build-maven.ts: `mvn package` through the cache's Maven side).
 * Needs root and a built base image (starts real gVisor sandboxes: run it alone, through flock).
 * Usage: npx tsx bench/build.ts [--runs N] [--only npm|maven] [--tree name@version] [--without RUNSC_FLAG]
 *   [--with RUNSC_FLAG]
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { FakeMavenRepo } from '../test/package-cache/fake-maven.js';
import { FakeNpmRegistry } from '../test/package-cache/fake-registry.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../test/support/daemon.js';
import { benchMaven, startMavenUpstream } from './build-maven.js';
import { printTable, summarize, timeIt } from './stats.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('--runs', '5'));
if (!(runs >= 1)) throw new Error('--runs takes a positive number');
const only = arg('--only', '');
if (only !== '' && only !== 'npm' && only !== 'maven') throw new Error('--only takes: npm, maven');
const tree = arg('--tree', 'express@4.21.2');
// runsc flags to compare in the same run: a second sandbox started without one of aiboxd's flags and/or with another
// (its wrapper edited for that start only), timed interleaved with the first (e.g. --with
// --file-access-mounts=exclusive, measuring only: that mode hides host edits of the workspace).
const withoutFlag = arg('--without', '');
const withFlag = arg('--with', '');
const without = [withoutFlag && `without ${withoutFlag}`, withFlag && `with ${withFlag}`]
  .filter(Boolean)
  .join(', ');

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
}

/** Mirrors `spec` and its dependency closure (as npm resolves it today) from registry.npmjs.org into `registry`. */
async function mirror(registry: FakeNpmRegistry, spec: string): Promise<Record<string, string>> {
  const at = spec.lastIndexOf('@');
  const deps = { [spec.slice(0, at)]: spec.slice(at + 1) };
  const dir = await mkdtemp(path.join(tmpdir(), 'aibox-bench-mirror-'));
  try {
    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'm', version: '1.0.0', dependencies: deps }),
    );
    await execa(
      'npm',
      [
        'install',
        '--package-lock-only',
        '--no-audit',
        '--no-fund',
        '--registry',
        'https://registry.npmjs.org/',
      ],
      {
        cwd: dir,
        env: { npm_config_cache: path.join(dir, '.npm') },
      },
    );
    const lock = JSON.parse(await readFile(path.join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    };
    const seen = new Set<string>();
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (!key || !entry.version || !entry.integrity) continue;
      const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      // npm leaves `resolved` out of lockfiles made against its default registry.
      const resolved =
        entry.resolved ??
        `https://registry.npmjs.org/${name}/-/${name.slice(name.lastIndexOf('/') + 1)}-${entry.version}.tgz`;
      if (seen.has(`${name}@${entry.version}`)) continue;
      seen.add(`${name}@${entry.version}`);
      const res = await fetch(resolved);
      const body = Buffer.from(await res.arrayBuffer());
      const sri = `sha512-${createHash('sha512').update(body).digest('base64')}`;
      if (!res.ok || sri !== entry.integrity) throw new Error(`cannot mirror ${name}@${entry.version}`);
      registry.add(name, entry.version, body, entry.dependencies ?? {});
    }
    console.log(`mirrored ${seen.size} packages of ${spec}`);
    return deps;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The npm rows: one sandbox with the node pack (and, with --without/--with, a second one), timed interleaved. */
async function benchNpm(
  daemon: TestDaemon,
  registry: FakeNpmRegistry,
  deps: Record<string, string>,
  hostDir: string,
  emptyStore: () => Promise<void>,
): Promise<void> {
  // One project, the lockfile made against the registry (as a committed one is); the host works on a copy.
  const project = await newProject('bench-build');
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'b', version: '1.0.0', dependencies: deps }),
  );
  const npmEnv = { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  await execa('npm', ['install', '--package-lock-only', '--registry', registry.url], {
    cwd: project,
    env: { ...npmEnv, npm_config_cache: path.join(hostDir, 'lock-cache') },
  });
  await execa('chown', ['-R', 'aibox:aibox', project]);
  await cp(path.join(project, 'package.json'), path.join(hostDir, 'package.json'));
  await cp(path.join(project, 'package-lock.json'), path.join(hostDir, 'package-lock.json'));

  const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name: 'bench-build' });
  if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
  const pack = await daemon.api('POST', '/v1/sandboxes/bench-build/packs', { ref: 'node' });
  if (pack.status >= 300) throw new Error(`node pack: ${JSON.stringify(pack.body)}`);
  if (without) {
    const wrapper = path.join(daemon.stateDir, 'podman', 'runsc-wrapper');
    const original = await readFile(wrapper, 'utf8');
    if (withoutFlag && !original.includes(` ${withoutFlag} `))
      throw new Error(`the runsc wrapper has no ${withoutFlag}: ${original}`);
    const edited = original
      .replace(` ${withoutFlag} `, ' ')
      .replace(' --network=host ', ` --network=host ${withFlag} `);
    await writeFile(wrapper, edited);
    try {
      const project2 = await newProject('bench-build-b');
      await cp(path.join(project, 'package.json'), path.join(project2, 'package.json'));
      await cp(path.join(project, 'package-lock.json'), path.join(project2, 'package-lock.json'));
      await execa('chown', ['-R', 'aibox:aibox', project2]);
      const b = await daemon.api('POST', '/v1/sandboxes', { path: project2, name: 'bench-build-b' });
      if (b.status !== 201) throw new Error(`create: ${JSON.stringify(b.body)}`);
    } finally {
      await writeFile(wrapper, original);
    }
    const packB = await daemon.api('POST', '/v1/sandboxes/bench-build-b/packs', { ref: 'node' });
    if (packB.status >= 300) throw new Error(`node pack: ${JSON.stringify(packB.body)}`);
  }
  const sh = async (script: string, sandbox = 'bench-build') => {
    const r = await daemon.exec(sandbox, ['sh', '-c', script]);
    if (r.exitCode !== 0) throw new Error(`${script}: ${r.stdout}${r.stderr}`);
  };
  const hostCi = (cache: string) =>
    execa('npm', ['ci', '--registry', registry.url], {
      cwd: hostDir,
      env: { ...npmEnv, npm_config_cache: cache, npm_config_replace_registry_host: 'always' },
    });
  const sandboxCi = (cache: string, sandbox?: string) =>
    sh(
      `cd /workspace && npm_config_update_notifier=false npm_config_cache=${cache} npm ci --no-audit --no-fund >/dev/null 2>&1`,
      sandbox,
    );
  // The same install outside the workspace mount: what gVisor's file I/O to the host folder costs.
  const sandboxCiTmp = (cache: string, sandbox?: string) =>
    sh(
      `rm -rf /tmp/p && mkdir /tmp/p && cp /workspace/package.json /workspace/package-lock.json /tmp/p && cd /tmp/p && npm_config_update_notifier=false npm_config_cache=${cache} npm ci --no-audit --no-fund >/dev/null 2>&1`,
      sandbox,
    );

  // Warm-up, not counted (page cache, the node pack, npm's first start).
  await hostCi(path.join(hostDir, 'warmup'));
  await sandboxCi('/tmp/npm-warmup');
  if (without) await sandboxCi('/tmp/npm-warmup', 'bench-build-b');

  const t = {
    hostCold: [] as number[],
    hostWarm: [] as number[],
    sbCold: [] as number[],
    sbWarm: [] as number[],
    sbWarmPlus: [] as number[],
    sbTmp: [] as number[],
    bWarmPlus: [] as number[],
    bTmp: [] as number[],
  };
  for (let i = 0; i < runs; i++) {
    await rm(path.join(hostDir, 'node_modules'), { recursive: true, force: true });
    t.hostCold.push(await timeIt(() => hostCi(path.join(hostDir, `cold-${i}`))));
    await rm(path.join(hostDir, 'node_modules'), { recursive: true, force: true });
    t.hostWarm.push(await timeIt(() => hostCi(path.join(hostDir, `cold-${i}`))));

    await emptyStore();
    await sh('rm -rf /workspace/node_modules');
    const upstreamBefore = registry.tarballHits();
    t.sbCold.push(await timeIt(() => sandboxCi(`/tmp/npm-cold-${i}`)));
    if (registry.tarballHits() === upstreamBefore) throw new Error('the cold run fetched nothing upstream');
    await sh('rm -rf /workspace/node_modules');
    const warmBefore = registry.requests.length;
    t.sbWarm.push(await timeIt(() => sandboxCi(`/tmp/npm-warm-${i}`)));
    if (registry.requests.length !== warmBefore)
      throw new Error(`the warm run went upstream: ${registry.requests.slice(warmBefore).join(' ')}`);
    await sh('rm -rf /workspace/node_modules');
    t.sbWarmPlus.push(await timeIt(() => sandboxCi(`/tmp/npm-warm-${i}`)));
    t.sbTmp.push(await timeIt(() => sandboxCiTmp(`/tmp/npm-tmp-${i}`)));
    if (without) {
      await sh('rm -rf /workspace/node_modules', 'bench-build-b');
      await sandboxCi(`/tmp/npm-warm-${i}`, 'bench-build-b'); // its own npm cache warm, as warm+ above
      await sh('rm -rf /workspace/node_modules', 'bench-build-b');
      t.bWarmPlus.push(await timeIt(() => sandboxCi(`/tmp/npm-warm-${i}`, 'bench-build-b')));
      t.bTmp.push(await timeIt(() => sandboxCiTmp(`/tmp/npm-tmp-${i}`, 'bench-build-b')));
    }
  }
  const rows: [string, ReturnType<typeof summarize>][] = [
    ['host: npm ci, empty npm cache (loopback registry)', summarize(t.hostCold)],
    ['host: npm ci, npm cache warm', summarize(t.hostWarm)],
    ['sandbox: npm ci, shared cache cold (fetch + verify + store)', summarize(t.sbCold)],
    ['sandbox: npm ci, shared cache warm, own npm cache empty', summarize(t.sbWarm)],
    ['sandbox: npm ci, shared cache and own npm cache warm', summarize(t.sbWarmPlus)],
    ['sandbox: npm ci in /tmp (not the workspace), shared cache warm', summarize(t.sbTmp)],
    ...(without
      ? ([
          [`sandbox ${without}: npm ci, both caches warm`, summarize(t.bWarmPlus)],
          [`sandbox ${without}: npm ci in /tmp`, summarize(t.bTmp)],
        ] as [string, ReturnType<typeof summarize>][])
      : []),
  ];
  printTable(
    `bench/build: npm ci of ${tree} (${registry.tarballHits()} upstream tarball fetches in all), ms`,
    rows,
  );
  const ratio = summarize(t.sbWarm).median / summarize(t.hostCold).median;
  const ratioPlus = summarize(t.sbWarmPlus).median / summarize(t.hostWarm).median;
  console.log(`\nsandbox warm / host (empty npm cache): ${ratio.toFixed(2)}× (goal ≤ 1.5×)`);
  console.log(`sandbox warm+ / host warm:            ${ratioPlus.toFixed(2)}×`);
  const ratioTmp = summarize(t.sbTmp).median / summarize(t.hostCold).median;
  console.log(`sandbox warm in /tmp / host:           ${ratioTmp.toFixed(2)}×`);
  if (without) {
    const r = (a: number[]) => (summarize(a).median / summarize(t.hostWarm).median).toFixed(2);
    console.log(`${without}: warm+ / host warm ${r(t.bWarmPlus)}×, /tmp / host ${r(t.bTmp)}×`);
  }
}

// The shipped policies with the maven pack allowed (the org baseline leaves it out); nothing else differs.
async function policyWithMaven(dir: string): Promise<void> {
  await cp(fileURLToPath(new URL('../policies', import.meta.url)), dir, { recursive: true });
  const file = path.join(dir, 'org/packs.rego');
  const rego = await readFile(file, 'utf8');
  const edited = rego.replace('"java",', '"java", "maven",');
  if (edited === rego) throw new Error(`cannot allow the maven pack in ${file}`);
  await writeFile(file, edited);
}

const registry = only === 'maven' ? undefined : new FakeNpmRegistry();
let maven: FakeMavenRepo | undefined;
let daemon: TestDaemon | undefined;
// The sandboxes' project folders, removed once the daemon (and with it every sandbox) is gone.
const projects: string[] = [];
const newProject = async (name: string) => {
  const dir = await makeProject(name);
  projects.push(dir);
  return dir;
};
const hostDir = await mkdtemp(path.join(tmpdir(), 'aibox-bench-host-'));
const policyRepo = await mkdtemp(path.join(tmpdir(), 'aibox-bench-build-policy-'));
try {
  await registry?.start();
  const deps = registry ? await mirror(registry, tree) : {};
  if (only !== 'npm') maven = await startMavenUpstream();
  await policyWithMaven(policyRepo);
  daemon = await startTestDaemon({
    name: 'bench-build',
    config: {
      policy: { repo: policyRepo },
      packageCache: {
        enabled: true,
        ...(registry && { npm: { upstream: registry.url, policyHost: 'registry.npmjs.org' } }),
        ...(maven && { maven: { upstream: maven.url, policyHost: 'repo.maven.apache.org' } }),
      },
    },
  });
  const setup = await daemon.cli(['setup', '--json']);
  if (setup.exitCode !== 0) throw new Error(`aibox setup failed: ${setup.stderr}`);
  const store = path.join(daemon.stateDir, 'package-cache');
  const emptyStore = async () => {
    for (const sub of ['blobs', 'meta'])
      for (const f of await readdir(path.join(store, sub)))
        await rm(path.join(store, sub, f), { force: true });
  };
  if (registry) await benchNpm(daemon, registry, deps, hostDir, emptyStore);
  if (maven) await benchMaven({ daemon, repo: maven, runs, emptyStore, newProject });
} finally {
  await daemon?.stop();
  await registry?.stop();
  await maven?.stop();
  await rm(hostDir, { recursive: true, force: true });
  await rm(policyRepo, { recursive: true, force: true });
  for (const dir of projects) await rm(dir, { recursive: true, force: true });
}
