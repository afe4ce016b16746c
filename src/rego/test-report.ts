/**
 * `opa test` output: the pretty report (v1/tester/reporter.go's PrettyReporter), the JSON report (an array of
 * results with durations in nanoseconds and `output` base64-encoded, as Go marshals bytes) and the summary counts.
 * Traces are not recorded by this engine, so the verbose FAILURES section lists the failing tests and cases only.
 */
import type { OpaErrorJson } from './opa-api.js';
import type { SubResult, TestResult } from './tester.js';

export interface TestSummary {
  total: number;
  pass: number;
  fail: number;
  error: number;
  skip: number;
}

/** OPA's counting: a partial-object test counts each leaf case; errors and skips count once. */
export function summarize(results: readonly TestResult[]): TestSummary {
  const s: TestSummary = { total: 0, pass: 0, fail: 0, error: 0, skip: 0 };
  for (const r of results) {
    if (r.result === 'skip') s.skip++;
    else if (r.result === 'error') s.error++;
    else if (r.subResults?.length) {
      for (const [, sr] of iterSubs(r.subResults))
        if (sr.subResults.length === 0) {
          if (sr.fail) s.fail++;
          else s.pass++;
        }
    } else if (r.result === 'pass') s.pass++;
    else s.fail++;
  }
  s.total = s.pass + s.fail + s.skip + s.error;
  return s;
}

/** Depth-first, sorted: [full name path, sub-result]. */
function* iterSubs(subs: readonly SubResult[], prefix: string[] = []): Generator<[string[], SubResult]> {
  for (const sr of subs) {
    const full = [...prefix, sr.name];
    yield [full, sr];
    yield* iterSubs(sr.subResults, full);
  }
}

/** Go's time.Duration String() for a duration in milliseconds (e.g. `1.234567ms`, `523.1µs`, `0s`). */
export function goDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const neg = ns < 0;
  if (neg) ns = -ns;
  const frac = (v: number, unit: number, digits: number): string => {
    const whole = Math.floor(v / unit);
    const rest = v % unit;
    if (rest === 0) return String(whole);
    return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
  };
  let out: string;
  if (ns < 1e3) out = `${ns}ns`;
  else if (ns < 1e6) out = `${frac(ns, 1e3, 3)}µs`;
  else if (ns < 1e9) out = `${frac(ns, 1e6, 6)}ms`;
  else {
    const h = Math.floor(ns / 3.6e12);
    const m = Math.floor((ns % 3.6e12) / 6e10);
    const s = frac(ns % 6e10, 1e9, 9);
    out = h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
  }
  return neg ? `-${out}` : out;
}

const outcome = (r: TestResult): string =>
  r.result === 'pass' ? 'PASS' : r.result === 'fail' ? 'FAIL' : r.result === 'skip' ? 'SKIPPED' : 'ERROR';

function line(r: TestResult): string {
  if (r.result === 'skip') return `${r.package}.${r.name}: SKIPPED`;
  return `${r.package}.${r.name}: ${outcome(r)} (${goDuration(r.durationMs)})`;
}

/** OPA's error text: `file:row: code: message`. */
function errorText(e: OpaErrorJson): string {
  const msg = `${e.code}: ${e.message}`;
  return e.location ? `${e.location.file}:${e.location.row}: ${msg}` : msg;
}

const indent = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

/** The pretty report: failing (or, verbose, all) tests with their cases and print output, then the counts. */
export function formatPretty(results: readonly TestResult[], opts: { verbose?: boolean } = {}): string {
  const verbose = opts.verbose === true;
  const out: string[] = [];
  let dirty = false;
  let lastFile = '';
  for (const r of results) {
    if (!(verbose || r.result !== 'pass')) continue;
    if (lastFile !== '' && lastFile !== r.location.file) out.push('');
    out.push(`${r.location.file}:${r.location.row}:`);
    lastFile = r.location.file;
    dirty = true;
    out.push(line(r));
    for (const [full, sr] of iterSubs(r.subResults ?? []))
      if (sr.fail || verbose)
        out.push(`  ${'  '.repeat(full.length - 1)}${sr.name}: ${sr.fail ? 'FAIL' : 'PASS'}`);
    if (r.output) {
      out.push('');
      out.push(indent(r.output.trim(), 2));
      out.push('');
    }
    if (r.error) out.push(`  ${errorText(r.error)}`);
  }
  const s = summarize(results);
  const failures = results.filter((r) => r.result === 'fail');
  if (s.fail > 0 && verbose) {
    out.push('-'.repeat(80), 'FAILURES', '-'.repeat(80));
    for (const f of failures) {
      out.push(line(f));
      for (const [full, sr] of iterSubs(f.subResults ?? []))
        if (sr.fail && sr.subResults.length === 0)
          full.forEach((n, i) => out.push(`${'  '.repeat(i + 1)}${n}: FAIL`));
      out.push('');
    }
  }
  if (dirty) out.push('-'.repeat(80));
  if (s.pass) out.push(`PASS: ${s.pass}/${s.total}`);
  if (s.fail) out.push(`FAIL: ${s.fail}/${s.total}`);
  if (s.skip) out.push(`SKIPPED: ${s.skip}/${s.total}`);
  if (s.error) out.push(`ERROR: ${s.error}/${s.total}`);
  return out.join('\n');
}

interface OpaSubResultJson {
  name?: string;
  fail?: boolean;
  sub_results?: Record<string, OpaSubResultJson>;
}

export interface OpaTestResultJson {
  location: { file: string; row: number; col: number };
  package: string;
  name: string;
  error?: OpaErrorJson;
  fail?: boolean;
  skip?: boolean;
  /** Nanoseconds. */
  duration: number;
  /** base64 of the print output. */
  output?: string;
  sub_results?: Record<string, OpaSubResultJson>;
}

function subsJson(subs: readonly SubResult[]): Record<string, OpaSubResultJson> {
  const o: Record<string, OpaSubResultJson> = {};
  for (const sr of subs) {
    const j: OpaSubResultJson = { name: sr.name };
    if (sr.fail) j.fail = true;
    if (sr.subResults.length) j.sub_results = subsJson(sr.subResults);
    o[sr.name] = j;
  }
  return o;
}

/** `opa test --format json`: one object per test, in run order. */
export function toOpaJson(results: readonly TestResult[]): OpaTestResultJson[] {
  return results.map((r) => {
    const j: OpaTestResultJson = { location: r.location, package: r.package, name: r.name, duration: 0 };
    if (r.error) j.error = r.error;
    if (r.result === 'fail') j.fail = true;
    if (r.result === 'skip') j.skip = true;
    j.duration = Math.round(r.durationMs * 1e6);
    if (r.output) j.output = Buffer.from(r.output, 'utf8').toString('base64');
    if (r.subResults?.length) j.sub_results = subsJson(r.subResults);
    return j;
  });
}
