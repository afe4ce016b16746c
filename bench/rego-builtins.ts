/**
 * Per-call cost of the builtins aibox policies lean on (egress allowlists, git refs, token checks), each next to a
 * same-run baseline doing the nearest thing in plain JS:
 *   glob.match (RE2 via re2js, compiled once and cached)  vs  a cached native RegExp.test
 *   regex.match                                           vs  a cached native RegExp.test
 *   net.cidr_contains                                     vs  parsing the two addresses only (split + Number)
 *   sprintf("%s/%d")                                      vs  a template literal
 *   time.parse_rfc3339_ns                                 vs  Date.parse
 *   io.jwt.verify_hs256                                   vs  node:crypto HMAC of the same input
 * Prints median and p99 in microseconds per call.   npx tsx bench/rego-builtins.ts [iterations]
 */
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { defaultRegistry } from '../src/rego/index.js';
import { values as V } from '../src/rego/index.js';
import type { BuiltinContext, Value } from '../src/rego/index.js';

const N = Number(process.argv[2] ?? 20000);
const registry = defaultRegistry();
const ctx: BuiltinContext = {
  name: '',
  strict: true,
  nowNs: 1_700_000_000_000_000_000n,
  cache: new Map(),
  sharedCache: new Map(),
  random: Math.random,
};

function call(name: string, args: Value[]): Value | undefined {
  return registry.get(name)!.impl(args, ctx);
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return `median ${(at(0.5) * 1000).toFixed(2)} us  p99 ${(at(0.99) * 1000).toFixed(2)} us`;
}

/** Interleave the two so both see the same machine state. */
function pair(label: string, builtin: () => unknown, baseline: () => unknown): void {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 200; i++) {
    builtin();
    baseline();
  }
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    builtin();
    a.push(performance.now() - t);
    t = performance.now();
    baseline();
    b.push(performance.now() - t);
  }
  console.log(`${label.padEnd(24)} builtin  ${stats(a)}`);
  console.log(`${''.padEnd(24)} baseline ${stats(b)}`);
}

const host = 'objects.githubusercontent.com';
const nativeGlob = /^[^.]*\.githubusercontent\.com$/;
pair(
  'glob.match',
  () => call('glob.match', ['*.githubusercontent.com', ['.'], host]),
  () => nativeGlob.test(host),
);

const ref = 'refs/heads/feature/sandbox-42';
const nativeRe = /^refs\/heads\/(feature|fix)\/[a-z0-9-]+$/;
pair(
  'regex.match',
  () => call('regex.match', ['^refs/heads/(feature|fix)/[a-z0-9-]+$', ref]),
  () => nativeRe.test(ref),
);

pair(
  'net.cidr_contains',
  () => call('net.cidr_contains', ['10.0.0.0/8', '10.20.30.40']),
  () => '10.20.30.40'.split('.').map(Number).length + '10.0.0.0/8'.split('/').length,
);

pair(
  'sprintf',
  () => call('sprintf', ['%s/%d', ['sandbox', 42]]),
  () => `${'sandbox'}/${42}`,
);

const stamp = '2026-11-22T08:00:00.123456789Z';
pair(
  'time.parse_rfc3339_ns',
  () => call('time.parse_rfc3339_ns', [stamp]),
  () => Date.parse(stamp),
);

const secret = 'bench-secret';
const token = (call('io.jwt.encode_sign', [
  V.fromJS({ alg: 'HS256' }),
  V.fromJS({ sub: 'agent' }),
  V.fromJS({ kty: 'oct', k: Buffer.from(secret).toString('base64url') }),
]) ?? '') as string;
const signingInput = token.split('.').slice(0, 2).join('.');
pair(
  'io.jwt.verify_hs256',
  () => call('io.jwt.verify_hs256', [token, secret]),
  () => createHmac('sha256', secret).update(signingInput).digest(),
);
