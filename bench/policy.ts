/**
 * Layered policy on the shipped policies (policies/: org baseline + team frontend + the example project file):
 *   1. decision latency per door: `evaluate` (all layers, no recording) next to a same-run baseline of one raw
 *      Rego evaluation of the org's deny rule through the engine;
 *   2. `decide` with the decision appended (fsync'd, group commit) to a real audit log on tmpfs/disk;
 *   3. edit -> enforcement: time from writing an org Rego file to the change listener seeing the new effective
 *      egress (watch + debounce + recompile + recompose), debounce 0 and the default 50 ms.
 * Prints median and p99.   npx tsx bench/policy.ts [iterations]
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../src/audit/index.js';
import {
  EngineBackend,
  FilePolicySource,
  PolicyStore,
  PolicyWatcher,
  type PolicySource,
} from '../src/policy/index.js';
import { Engine } from '../src/rego/index.js';
import type { PolicyDoor } from '../src/shared/index.js';
import { quietLogger as quiet } from '../test/support/quiet-logger.js';

const N = Number(process.argv[2] ?? 2000);
const clock = { now: () => Date.now() };
const ROOT = join(import.meta.dirname, '../policies');

function stats(xs: number[], unit: 'us' | 'ms' = 'us'): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  const f = (v: number) => (unit === 'us' ? `${(v * 1000).toFixed(1)} µs` : `${v.toFixed(1)} ms`);
  return `median ${f(at(0.5))}  p99 ${f(at(0.99))}  (n=${s.length})`;
}

function loop(fn: () => unknown, n = N): number[] {
  for (let i = 0; i < Math.min(200, n); i++) fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const project = await readFile(join(ROOT, 'examples/policy.yaml'), 'utf8');
const files = new FilePolicySource(ROOT);
const source: PolicySource = {
  readRepo: () => files.readRepo(),
  readProject: () => Promise.resolve({ file: 'aibox/policy.yaml', text: project }),
};

const dir = await mkdtemp(join(tmpdir(), 'aibox-bench-policy-'));
const audit = await AuditLog.open({ path: join(dir, 'audit.jsonl'), logger: quiet, clock });
const store = new PolicyStore({
  source,
  backend: new EngineBackend(),
  sink: { record: (d) => audit.append({ kind: 'decision', id: d.id, data: d }).then(() => undefined) },
  logger: quiet,
  clock,
});
const t0 = performance.now();
await store.reloadRepo();
await store.attach({ id: 'sbx_bench', name: 'bench', path: '/bench' });
console.log(
  `load + compose shipped policies: ${(performance.now() - t0).toFixed(1)} ms (revision ${store.revision})`,
);

const requests: [PolicyDoor, string, unknown][] = [
  ['egress', 'allowed host', { host: 'registry.npmjs.org', port: 443 }],
  ['egress', 'denied host', { host: 'example.com', port: 443 }],
  ['exec', 'allowed command', { argv: ['npm', 'test'], via: 'cli' }],
  ['exec', 'denied command', { argv: ['nsenter', '-t', '1'], via: 'ssh' }],
  ['push', 'protected branch', { ref: 'refs/heads/main' }],
  ['mounts', 'project folder', { source: '/home/dev/app', mode: 'ro' }],
  ['llm', 'model', { provider: 'anthropic', model: 'claude-sonnet-4' }],
  ['packs', 'pack', { name: 'node' }],
  ['limits', 'limits', { cpus: 2, memory_mb: 1024 }],
];

// Baseline: one prepared-free raw evaluation of the org egress deny rule through the engine.
const raw = new Engine();
for (const m of (await files.readRepo()).org.modules) raw.addModule(m.file, m.text);
raw.setData({ org: {} });
console.log(
  `\nbaseline  raw engine eval of data.aibox.org.egress.deny: ${stats(loop(() => raw.evalRule('data.aibox.org.egress.deny', { host: 'example.com', port: 443 })))}`,
);
console.log('\ndecision latency per door (org + team frontend + project, evaluate without recording):');
for (const [door, label, req] of requests) {
  const outcome = store.evaluate(door, req, 'bench').outcome;
  console.log(
    `  ${door.padEnd(7)} ${label.padEnd(17)} -> ${outcome.padEnd(7)} ${stats(loop(() => store.evaluate(door, req, 'bench')))}`,
  );
}

// decide() = evaluate + audit append (fsync). Sequential, then 32 concurrent callers sharing fsyncs.
const seq: number[] = [];
for (let i = 0; i < Math.min(N, 300); i++) {
  const s = performance.now();
  await store.decide('egress', { host: 'example.com' }, 'bench');
  seq.push(performance.now() - s);
}
console.log(`\ndecide + fsync'd audit append, one at a time:     ${stats(seq, 'ms')}`);
const batch: number[] = [];
for (let i = 0; i < 20; i++) {
  const s = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, () => store.decide('egress', { host: 'example.com' }, 'bench')),
  );
  batch.push((performance.now() - s) / 32);
}
console.log(`decide + audit append, 32 concurrent (per decision): ${stats(batch, 'ms')}`);
console.log(
  `audit log verify after ${(await audit.verify()).records} records: ok=${(await audit.verify()).ok}`,
);

// Edit -> enforcement through the watcher.
const repo = join(dir, 'repo');
await cp(ROOT, repo, { recursive: true });
for (const debounceMs of [0, 50]) {
  const live = new PolicyStore({
    source: new FilePolicySource(repo),
    backend: new EngineBackend(),
    sink: { record: () => Promise.resolve() },
    logger: quiet,
    clock,
  });
  await live.reloadRepo();
  await live.attach({ id: 'sbx_live', name: 'live', path: join(dir, 'none') });
  const watcher = new PolicyWatcher({ store: live, repoDir: repo, logger: quiet, debounceMs });
  watcher.start();
  const lat: number[] = [];
  const file = join(repo, 'org/egress.rego');
  const original = await readFile(file, 'utf8');
  for (let i = 0; i < 15; i++) {
    const seen = new Promise<void>((resolve) => {
      const off = live.onChange((c) => {
        if (c.effective.egress.allowDomains.includes(`bench${i}.example.org`)) {
          off();
          resolve();
        }
      });
    });
    const s = performance.now();
    await writeFile(file, `${original}\nallow_domains contains "bench${i}.example.org"\n`);
    await seen;
    lat.push(performance.now() - s);
    await watcher.idle();
  }
  watcher.close();
  console.log(`edit -> enforcement (debounce ${String(debounceMs).padStart(2)} ms):  ${stats(lat, 'ms')}`);
}

await audit.close();
await rm(dir, { recursive: true, force: true });

// Edit -> enforcement in a running gVisor sandbox (needs root, podman, runsc: `--sandbox`): time from writing the
// org Rego file to the egress layer logging that it re-rendered the sandbox's Squid + DNS allowlist, then to the
// first curl from inside that sees the change.
if (process.argv.includes('--sandbox')) {
  const { startTestDaemon, makeProject } = await import('../test/support/daemon.js');
  const { startOrigin } = await import('../test/egress/support/servers.js');
  const origin = await startOrigin('bench', '127.0.0.1');
  const srepo = await mkdtemp(join(tmpdir(), 'aibox-bench-policy-repo-'));
  await cp(ROOT, srepo, { recursive: true });
  const rule = (hosts: string[]) =>
    `package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {${hosts.map((h) => JSON.stringify(h)).join(', ')}}\n\nallow_ports := {${origin.port}}\n`;
  await writeFile(join(srepo, 'org/egress.rego'), rule(['a.test', 'b.test']));
  await rm(join(srepo, 'teams'), { recursive: true, force: true });
  const daemon = await startTestDaemon({
    name: 'bench-policy',
    config: {
      policy: { repo: srepo, debounceMs: 20 },
      egress: {
        dns: { hosts: { 'a.test': '127.0.0.1', 'b.test': '127.0.0.1' } },
        hostAccess: [{ address: '127.0.0.1', port: origin.port }],
      },
    },
  });
  try {
    await daemon.cli(['setup', '--json']);
    const created = await daemon.api('POST', '/v1/sandboxes', {
      path: await makeProject('bench'),
      name: 'bench',
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const applied: number[] = [];
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      const hosts = i % 2 === 0 ? ['a.test'] : ['a.test', 'b.test'];
      const before = (await daemon.log()).split('\n').length;
      const t = Date.now();
      await writeFile(join(srepo, 'org/egress.rego'), rule(hosts));
      for (;;) {
        const lines = (await daemon.log()).split('\n').slice(before - 1);
        const hit = lines.map((l) => safeParse(l)).find((l) => l?.msg === 'egress policy reloaded');
        if (hit && typeof hit.time === 'number') {
          applied.push(hit.time - t);
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      for (;;) {
        const r = await daemon.exec('bench', [
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '--max-time',
          '3',
          `http://b.test:${origin.port}/`,
        ]);
        if ((r.stdout === '200') === (i % 2 === 1)) break;
      }
      seen.push(Date.now() - t);
    }
    console.log(`\nrunning sandbox: edit -> egress re-rendered (Squid + DNS): ${stats(applied, 'ms')}`);
    console.log(`running sandbox: edit -> first curl inside sees it:       ${stats(seen, 'ms')}`);
  } finally {
    await daemon.stop();
    await origin.close();
    await rm(srepo, { recursive: true, force: true });
  }
}

function safeParse(line: string): { msg?: string; time?: number } | undefined {
  try {
    return JSON.parse(line) as { msg?: string; time?: number };
  } catch {
    return undefined;
  }
}
