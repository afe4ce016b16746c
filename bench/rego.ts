/**
 * Rego engine benchmark: decisions per second and p50/p99 latency of prepared queries.
 *   npm run bench:rego [-- --iterations N]
 * (a) the RBAC example from OPA's policy-performance documentation (roles/bindings, `data.rbac.allow`), with the
 *     request given as `input` instead of the doc's inline `inp` constant (that is what a daemon does);
 * (b) aibox's own shipped org policies (policies/org), egress and exec decisions, raw through the engine;
 * (c) the shipped layered decision: org + team (frontend) + project (policies/examples/policy.yaml) composed by the
 *     policy store, one egress and one exec decision (what the daemon asks per request, without the audit write);
 * (d) the vendored public libraries' `opa test` suites (test/rego/libraries): total wall time and test count.
 * Wall-clock latencies suffer on a shared machine; `cpu µs/op` (process CPU time / iterations) is steadier.
 * Note: tsx compiles with esbuild's keepNames, which wraps every closure in a `__name` call and costs the CPS
 * evaluator about 2x; `npm run build` output (tsc) has no such helper.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { EngineBackend, FilePolicySource, PolicyStore } from '../src/policy/index.js';
import type { PolicySource } from '../src/policy/index.js';
import { Engine, loadPaths, runTests, summarize } from '../src/rego/index.js';
import type { PreparedQuery } from '../src/rego/index.js';
import { librarySuites } from '../test/rego/libraries/suites.js';
import { quietLogger as quiet } from '../test/support/quiet-logger.js';

const RBAC = `package rbac

import rego.v1

# Example RBAC configuration.
bindings := [
	{"user": "alice", "roles": ["dev", "test"]},
	{"user": "bob", "roles": ["test"]},
]

roles := [
	{
		"name": "dev",
		"permissions": [
			{"resource": "foo123", "action": "write"},
			{"resource": "foo123", "action": "read"},
		],
	},
	{
		"name": "test",
		"permissions": [{"resource": "foo123", "action": "read"}],
	},
]

# Example RBAC policy implementation.
default allow := false

allow if {
	some role_name
	user_has_role[role_name]
	role_has_permission[role_name]
}

user_has_role contains role_name if {
	binding := bindings[_]
	binding.user == input.subject
	role_name := binding.roles[_]
}

role_has_permission contains role_name if {
	role := roles[_]
	role_name := role.name
	perm := role.permissions[_]
	perm.resource == input.resource
	perm.action == input.action
}
`;

const iterations = Number(process.argv[process.argv.indexOf('--iterations') + 1]) || 200_000;

function measure(label: string, q: PreparedQuery, inputs: unknown[], check?: (r: unknown) => void): void {
  measureFn(label, (input) => q.evaluate(input), inputs, check);
}

function measureFn(
  label: string,
  run: (input: unknown) => unknown,
  inputs: unknown[],
  check?: (r: unknown) => void,
): void {
  const q = { evaluate: run };
  // warm up (JIT)
  for (let i = 0; i < Math.min(20_000, iterations); i++) q.evaluate(inputs[i % inputs.length]);
  if (check) check(q.evaluate(inputs[0]));
  const samples = new Float64Array(iterations);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const s = process.hrtime.bigint();
    q.evaluate(inputs[i % inputs.length]);
    samples[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  const total = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuPerOp = (cpu.user + cpu.system) / iterations;
  samples.sort();
  const p = (x: number): string => samples[Math.min(iterations - 1, Math.floor(x * iterations))]!.toFixed(2);
  console.log(
    `${label.padEnd(34)} ${(iterations / total).toFixed(0).padStart(9)} decisions/s   p50 ${p(0.5)} µs   p99 ${p(0.99)} µs   cpu ${cpuPerOp.toFixed(2)} µs/op`,
  );
}

const rbac = new Engine();
rbac.addModule('rbac.rego', RBAC);
const allow = rbac.prepare('data.rbac.allow');
measure(
  '(a) OPA RBAC example: allow',
  allow,
  [
    { subject: 'bob', resource: 'foo123', action: 'write' },
    { subject: 'alice', resource: 'foo123', action: 'write' },
  ],
  (r) => {
    const v = (r as { expressions: { value: unknown }[] }[])[0]?.expressions[0]?.value;
    if (v !== false) throw new Error(`unexpected RBAC decision ${JSON.stringify(v)}`);
  },
);

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const org = join(repo, 'policies/org');
if (existsSync(org)) {
  const loaded = loadPaths([org]);
  const engine = new Engine();
  for (const m of loaded.modules) if (!m.name.endsWith('_test.rego')) engine.addModule(m.name, m.source);
  engine.setData(loaded.data);
  measure('(b) aibox org egress: deny', engine.prepare('data.aibox.org.egress.deny'), [
    { host: 'registry.npmjs.org', port: 443 },
    { host: '93.184.216.34', port: 443 },
  ]);
  measure('(b) aibox org exec: deny', engine.prepare('data.aibox.org.exec.deny'), [
    { argv: ['npm', 'test'], user: 'dev', via: 'cli' },
    { argv: ['/usr/bin/nsenter', '-t', '1'], user: 'dev', via: 'cli' },
  ]);
} else console.log('(b) skipped: policies/org not found');

// (c) The layered decision the daemon makes: org + team frontend + the example project, composed by the store.
const policies = join(repo, 'policies');
if (existsSync(join(policies, 'examples/policy.yaml'))) {
  const project = await readFile(join(policies, 'examples/policy.yaml'), 'utf8');
  const files = new FilePolicySource(policies);
  const source: PolicySource = {
    readRepo: () => files.readRepo(),
    readProject: () => Promise.resolve({ file: 'aibox/policy.yaml', text: project }),
  };
  const store = new PolicyStore({
    source,
    backend: new EngineBackend(),
    sink: { record: () => Promise.resolve() },
    logger: quiet,
    clock: { now: () => Date.now() },
  });
  await store.reloadRepo();
  await store.attach({ id: 'sbx_bench', name: 'bench', path: '/bench' });
  measureFn('(c) org+team+project egress', (req) => store.evaluate('egress', req, 'bench'), [
    { host: 'registry.npmjs.org', port: 443 },
    { host: 'example.com', port: 443 },
  ]);
  measureFn('(c) org+team+project exec', (req) => store.evaluate('exec', req, 'bench'), [
    { argv: ['npm', 'test'], via: 'cli' },
    { argv: ['nsenter', '-t', '1'], via: 'ssh' },
  ]);
} else console.log('(c) skipped: policies/examples/policy.yaml not found');

// (d) The public libraries' own test suites, as `aibox policy test --v0-compatible` runs them.
{
  const suites = librarySuites();
  const t0 = performance.now();
  let total = 0;
  let pass = 0;
  for (const s of suites) {
    try {
      const r = summarize(runTests(loadPaths(s.paths), { v0Compatible: s.v0Compatible }));
      total += r.total;
      pass += r.pass;
    } catch {
      // a suite that does not compile counts as no passing tests (libraries.test.ts names it)
    }
  }
  const ms = performance.now() - t0;
  console.log(
    `${'(d) library opa test suites'.padEnd(34)} ${suites.length} suites, ${total} tests (${pass} pass) in ${ms.toFixed(0)} ms (${((ms * 1000) / Math.max(1, total)).toFixed(0)} µs/test)`,
  );
}
