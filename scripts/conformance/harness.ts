/**
 * Runs OPA's Rego conformance cases (YAML) against aibox's Rego engine, mirroring OPA's `testRun`
 * (see ../shared/opa-conformance/README.md). Shared by `scripts/conformance.ts` and the vitest ratchet test.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import YAML from 'yaml';
import { Engine, RegoError, RegoErrors } from '../../src/rego/index.js';
import { values } from '../../src/rego/index.js';
import type { Value } from '../../src/rego/index.js';

const { ObjectValue, SetValue, compare, fromJS, hashKey, toJSONText, toRegoText } = values;

export interface Case {
  note: string;
  query?: string;
  modules?: string[];
  data?: unknown;
  input?: unknown;
  input_term?: string;
  want_result?: Record<string, unknown>[];
  want_error_code?: string;
  want_error?: string;
  strict_error?: boolean;
  sort_bindings?: boolean;
  ignore_generated_vars?: boolean;
}

export type Outcome = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  id: string;
  folder: string;
  note: string;
  outcome: Outcome;
  reason?: string;
  ms: number;
}

export interface SkipRule {
  pattern: string;
  reason: string;
}

export interface FolderSummary {
  passed: number;
  failed: number;
  skipped: number;
}

export interface SuiteReport {
  root: string;
  folders: Record<string, FolderSummary>;
  total: FolderSummary;
  results: CaseResult[];
}

export function defaultSuiteDir(repoRoot: string): string {
  return resolve(repoRoot, process.env.AIBOX_OPA_CONFORMANCE ?? '../shared/opa-conformance/v1');
}

function listYaml(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listYaml(p));
    else if (name.endsWith('.yaml') || name.endsWith('.yml')) out.push(p);
  }
  return out;
}

export function loadSkips(file: string): SkipRule[] {
  const doc = YAML.parse(readFileSync(file, 'utf8')) as { skip?: SkipRule[] } | null;
  return doc?.skip ?? [];
}

export function runSuite(
  dir: string,
  opts: { filter?: string; skips?: SkipRule[]; only?: Set<string>; timeoutMs?: number } = {},
): SuiteReport {
  const skipRes = (opts.skips ?? []).map((s) => ({ re: new RegExp(s.pattern), reason: s.reason }));
  const report: SuiteReport = { root: dir, folders: {}, total: { passed: 0, failed: 0, skipped: 0 }, results: [] };
  for (const file of listYaml(dir)) {
    const rel = relative(dir, file).split('\\').join('/');
    const folder = rel.split('/')[0]!;
    if (opts.filter && folder !== opts.filter && !rel.startsWith(opts.filter)) continue;
    const doc = YAML.parse(readFileSync(file, 'utf8'), { intAsBigInt: true }) as { cases?: Case[] };
    (doc.cases ?? []).forEach((c, i) => {
      const id = `${rel}#${i}`;
      if (opts.only && !opts.only.has(id)) return;
      const sum = (report.folders[folder] ??= { passed: 0, failed: 0, skipped: 0 });
      const skip = skipRes.find((s) => s.re.test(id) || s.re.test(c.note));
      let res: CaseResult;
      if (skip) res = { id, folder, note: c.note, outcome: 'skip', reason: skip.reason, ms: 0 };
      else {
        const t0 = performance.now();
        const r = runCase(c, opts.timeoutMs ?? 2000);
        res = { id, folder, note: c.note, outcome: r.ok ? 'pass' : 'fail', ms: performance.now() - t0 };
        if (!r.ok) res.reason = r.reason;
      }
      report.results.push(res);
      const key = res.outcome === 'pass' ? 'passed' : res.outcome === 'fail' ? 'failed' : 'skipped';
      sum[key]++;
      report.total[key]++;
    });
  }
  return report;
}

export function runCase(c: Case, timeoutMs: number): { ok: boolean; reason?: string } {
  let results: { bindings: Map<string, Value> }[];
  try {
    const engine = new Engine({ limits: { timeoutMs } });
    (c.modules ?? []).forEach((m, i) => engine.addModule(`test-${i}.rego`, m));
    engine.setData(c.data ?? {});
    let input: Value | undefined;
    if (c.input_term !== undefined) input = engine.parseValue(c.input_term);
    else if (c.input !== undefined) input = fromJS(c.input);
    const q = engine.prepare(c.query ?? '');
    results = q.evaluateValues(input, { strictBuiltinErrors: c.strict_error === true });
  } catch (e) {
    const err = e instanceof RegoErrors ? e.errors[0]! : e instanceof RegoError ? e : undefined;
    const text = err ? err.message : String(e);
    const code = err?.code;
    if (c.want_error === undefined && c.want_error_code === undefined)
      return { ok: false, reason: `unexpected error: ${text}` };
    if (c.want_error_code !== undefined && c.want_error_code !== code)
      return { ok: false, reason: `want code ${c.want_error_code}, got ${text}` };
    if (c.want_error !== undefined && c.want_error !== '' && !text.includes(c.want_error))
      return { ok: false, reason: `want error containing ${JSON.stringify(c.want_error)}, got ${text}` };
    return { ok: true };
  }
  if (c.want_error !== undefined || c.want_error_code !== undefined)
    return { ok: false, reason: `want error ${c.want_error_code ?? ''} ${c.want_error ?? ''}, got ${results.length} results` };
  const want = (c.want_result ?? []).map((m) => {
    const o = new Map<string, Value>();
    for (const [k, v] of Object.entries(m)) o.set(k, normalize(fromJS(v), c.sort_bindings === true));
    return o;
  });
  const got = results.map((r) => {
    const o = new Map<string, Value>();
    for (const [k, v] of r.bindings) {
      if (k.startsWith('__') || k.startsWith('$')) continue;
      o.set(k, normalize(v, c.sort_bindings === true));
    }
    return o;
  });
  const keyOf = (m: Map<string, Value>): string =>
    [...m.keys()]
      .sort()
      .map((k) => `${k}=${hashKey(m.get(k)!)}`)
      .join('|');
  const a = want.map(keyOf).sort();
  const b = got.map(keyOf).sort();
  if (a.length === b.length && a.every((x, i) => x === b[i])) return { ok: true };
  const show = (ms: Map<string, Value>[]): string =>
    '[' +
    ms
      .map(
        (m) =>
          '{' +
          [...m]
            .map(([k, v]) => `${k}: ${toRegoText(v)}`)
            .join(', ') +
          '}',
      )
      .join(', ') +
    ']';
  return { ok: false, reason: `want ${show(want)}\n got ${show(got)}`.slice(0, 2000) };
}

/** As OPA's harness sees values: sets become sorted arrays, non-string keys become strings. */
function normalize(v: Value, sortArrays: boolean, top = true): Value {
  if (v instanceof SetValue) {
    const arr = v.values().map((x) => normalize(x, sortArrays, false));
    if (sortArrays && top) arr.sort(compare);
    return arr;
  }
  if (Array.isArray(v)) {
    const arr = (v as readonly Value[]).map((x) => normalize(x, sortArrays, false));
    if (sortArrays && top) arr.sort(compare);
    return arr;
  }
  if (v instanceof ObjectValue) {
    const o = new ObjectValue();
    for (const [k, x] of v.entries())
      o.set(typeof k === 'string' ? k : toJSONText(k), normalize(x, sortArrays, false));
    return o;
  }
  return v;
}

export function formatReport(r: SuiteReport): string {
  const lines: string[] = [];
  const names = Object.keys(r.folders).sort();
  const w = Math.max(6, ...names.map((n) => n.length));
  lines.push(`${'folder'.padEnd(w)}  passed  failed  skipped`);
  for (const n of names) {
    const s = r.folders[n]!;
    lines.push(`${n.padEnd(w)}  ${String(s.passed).padStart(6)}  ${String(s.failed).padStart(6)}  ${String(s.skipped).padStart(7)}`);
  }
  const t = r.total;
  lines.push(`${'TOTAL'.padEnd(w)}  ${String(t.passed).padStart(6)}  ${String(t.failed).padStart(6)}  ${String(t.skipped).padStart(7)}`);
  const ran = t.passed + t.failed;
  lines.push(`pass rate (non-skipped): ${ran ? ((100 * t.passed) / ran).toFixed(1) : '0'}%`);
  return lines.join('\n');
}
