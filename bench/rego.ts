/**
 * Rego engine benchmark: decisions per second and p50/p99 latency of prepared queries.
 *   npm run bench:rego [-- --iterations N]
 * (a) the RBAC example from OPA's policy-performance documentation (roles/bindings, `data.rbac.allow`), with the
 *     request given as `input` instead of the doc's inline `inp` constant (that is what a daemon does);
 * (b) aibox's own shipped org policies (policies/org), egress and exec decisions.
 * Wall-clock latencies suffer on a shared machine; `cpu µs/op` (process CPU time / iterations) is steadier.
 * Note: tsx compiles with esbuild's keepNames, which wraps every closure in a `__name` call and costs the CPS
 * evaluator about 2x; `npm run build` output (tsc) has no such helper.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, loadPaths } from '../src/rego/index.js';
import type { PreparedQuery } from '../src/rego/index.js';

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
