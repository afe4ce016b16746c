/**
 * Differential fuzzer (dev only, not part of CI): random small Rego modules (scripts/rego-fuzz-gen.ts) evaluated
 * by this engine and by a real OPA 0.47 (scripts/rego-fuzz-oracle.ts); every rule's value must agree, and so must
 * compile and evaluation errors (by error code).
 *
 *   npm run fuzz:rego -- [--seconds 60] [--seed N] [--batch 12] [--out /tmp/rego-fuzz.jsonl]
 *
 * Each disagreement is printed and appended to the --out file as one JSON line with the module (Rego v0 with
 * future.keywords, as OPA 0.47 ran it), the rule and both answers; `--seed` and the module index reproduce it.
 * Known, explained differences are listed in docs/policy-testing.md and filtered by `explained` below.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { Engine, RegoError, RegoErrors } from '../src/rego/index.js';
import { parseModule } from '../src/rego/parser.js';
import { toRegoText } from '../src/rego/value.js';
import { genModule, rng } from './rego-fuzz-gen.js';
import type { GenModule } from './rego-fuzz-gen.js';
import { OpaOracle } from './rego-fuzz-oracle.js';
import type { OracleAnswer, OracleCheck } from './rego-fuzz-oracle.js';

const HEADER = `package fz
import future.keywords.in
import future.keywords.every
import future.keywords.if
import future.keywords.contains
`;

type Outcome =
  { kind: 'value'; text: string } | { kind: 'undefined' } | { kind: 'error'; code: string; message: string };

interface Ours {
  compileError?: { code: string; message: string };
  results: Map<string, Outcome>;
}

function codeOf(e: unknown): { code: string; message: string } {
  if (e instanceof RegoErrors) return { code: e.errors[0]!.code, message: e.errors[0]!.message };
  if (e instanceof RegoError) return { code: e.code, message: e.message };
  return { code: 'internal_error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

/** Evaluate every query rule of `m` with this engine (Rego v0 + future.keywords, non-strict builtin errors). */
function ours(m: GenModule): Ours {
  const engine = new Engine({ limits: { timeoutMs: 2000 } });
  try {
    engine.addParsedModule(parseModule('fz.rego', HEADER + m.rules, { regoVersion: 'v0' }));
    engine.compile();
  } catch (e) {
    return { compileError: codeOf(e), results: new Map() };
  }
  const results = new Map<string, Outcome>();
  for (const q of m.queries) {
    try {
      const r = engine.evalRule(`data.fz.${q}`);
      results.set(
        q,
        r.raw === undefined ? { kind: 'undefined' } : { kind: 'value', text: toRegoText(r.raw) },
      );
    } catch (e) {
      results.set(q, { kind: 'error', ...codeOf(e) });
    }
  }
  return { results };
}

/** Checks for the oracle: `<q>_eq` holds when OPA's value equals ours, `<q>_def` when OPA's value is defined. */
function checksFor(k: number, m: GenModule, o: Ours): { rules: string; checks: OracleCheck[] } {
  const lines: string[] = [];
  const checks: OracleCheck[] = [];
  for (const q of m.queries) {
    const r = o.results.get(q);
    if (!r || r.kind === 'error') continue;
    lines.push(`${q}_def_ if { _ = ${q} }`);
    checks.push({ id: `k${k}_${q}_def`, rule: `${q}_def_` });
    if (r.kind === 'value') {
      lines.push(`${q}_eq_ if { ${q} == ${r.text} }`);
      checks.push({ id: `k${k}_${q}_eq`, rule: `${q}_eq_` });
    }
  }
  return { rules: lines.join('\n'), checks };
}

interface Disagreement {
  seed: number;
  module: number;
  query?: string;
  ours: string;
  opa: string;
  rego: string;
}

const NUM = /-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g;

/** Differences known and explained (see docs/policy-testing.md); returns the reason or undefined. */
function explained(d: Disagreement): string | undefined {
  // OPA computes non-integer arithmetic with big.Float (1/7 is 0.14285714285714285714 and not == 0.14285714285714285);
  // this engine rounds like float64 where OPA keeps more digits.
  const opa = /^(.*) \(JSON\)$/.exec(d.opa)?.[1];
  if (opa !== undefined) {
    const a = (d.ours.match(NUM) ?? []).map(Number);
    const b = (opa.match(NUM) ?? []).map(Number);
    const strip = (x: string): string => x.replace(NUM, 'N').replace(/[{}[\]"\s]/g, '');
    if (
      a.length === b.length &&
      a.length > 0 &&
      strip(d.ours) === strip(opa) &&
      a.every((x, i) => Math.abs(x - b[i]!) <= 1e-12 * Math.max(1, Math.abs(x)))
    )
      return 'precision';
  }
  // OPA keeps a number literal's text: `sprintf("%d", [1e3])` formats the float64 1000 ("%!d(float64=1000)");
  // this engine normalises 1e3 to the integer 1000 and prints "1000".
  if (d.opa.toLowerCase().includes('%!d(float64=')) return 'number-literal-text';
  // OPA 0.47 does not type-check the body of `every` (later versions do, and so does this engine).
  const row = /fz\.rego:(\d+): rego_type_error/.exec(d.ours)?.[1];
  if (row && d.opa === 'compiles' && /\bevery\b/.test(d.rego.split('\n')[Number(row) - 1] ?? ''))
    return 'every-typecheck';
  return undefined;
}

function opaCodes(error: string): string[] {
  return [...error.matchAll(/(rego_[a-z_]+_error|eval_[a-z_]+_error)/g)].map((m) => m[1]!);
}

function opaCode(error: string): string {
  return /(rego_[a-z_]+_error|eval_[a-z_]+_error)/.exec(error)?.[1] ?? 'error';
}

// After OPA panics, the old Go instance's timers throw once; that instance is gone and a new one answers.
process.on('uncaughtException', (e) => {
  if (/Go program has already exited/.test(e.message)) return;
  console.error(e);
  process.exit(1);
});

async function main(): Promise<void> {
  const arg = (name: string, dflt: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
  };
  const seconds = Number(arg('seconds', '60'));
  const seed0 = Number(arg('seed', String(Date.now() % 1_000_000)));
  const batch = Number(arg('batch', '12'));
  const out = arg('out', '/tmp/rego-fuzz.jsonl');
  const oracle = await OpaOracle.start();
  const evalExpr = arg('eval', '');
  if (evalExpr) {
    // `--eval EXPR [--rules FILE]`: OPA 0.47's value of one expression, for reproducing a disagreement.
    const rulesFile = arg('rules', '');
    const rules = rulesFile ? readFileSync(rulesFile, 'utf8').replace(/^package .*$/m, '') : '';
    console.log(oracle.value(rules, evalExpr));
    oracle.stop();
    return;
  }
  let seed = seed0;
  {
    const deadline = Date.now() + seconds * 1000;
    const stats = {
      modules: 0,
      queries: 0,
      compileErrors: 0,
      evalErrors: 0,
      agree: 0,
      disagree: 0,
      explained: 0,
      codeMismatch: 0,
      oracleCrashes: 0,
      typeCheckGap: 0,
    };
    /** Ask OPA; a panic in OPA (a bug of 0.47's type checker, seen on some ill-typed modules) is counted apart. */
    const ask = async (rules: string, checks: OracleCheck[]): Promise<OracleAnswer | undefined> => {
      const a = oracle.run(rules, checks);
      if (a.ok || !a.crashed) return a;
      stats.oracleCrashes++;
      appendFileSync(
        out,
        JSON.stringify({ seed, kind: 'oracle-crash', opa: a.error, rego: HEADER + rules }) + '\n',
      );
      await oracle.restart();
      return undefined;
    };
    const seen = new Set<string>();
    const report = (d: Disagreement): void => {
      const why = explained(d);
      if (why) {
        stats.explained++;
        return;
      }
      stats.disagree++;
      const sig = `${d.ours.slice(0, 40)}|${d.opa.slice(0, 40)}`;
      appendFileSync(out, JSON.stringify(d) + '\n');
      if (seen.has(sig)) return;
      seen.add(sig);
      console.log(
        `\n--- disagreement (seed ${d.seed}, module ${d.module}${d.query ? `, rule ${d.query}` : ''})`,
      );
      console.log(`ours: ${d.ours}\nopa:  ${d.opa}\n${d.rego}`);
    };
    while (Date.now() < deadline) {
      const r = rng(seed);
      const mods = Array.from({ length: batch }, (_, k) => genModule(r, k));
      const res = mods.map(ours);
      stats.modules += mods.length;
      const clean: number[] = [];
      for (let k = 0; k < mods.length; k++) {
        const m = mods[k]!;
        const o = res[k]!;
        const rego = HEADER + m.rules;
        if (o.compileError) {
          stats.compileErrors++;
          const a = await ask(m.rules, []);
          if (!a) continue;
          if (a.ok)
            report({
              seed,
              module: k,
              ours: `${o.compileError.code}: ${o.compileError.message}`,
              opa: 'compiles',
              rego,
            });
          else if (!opaCodes(a.error).includes(o.compileError.code)) {
            // Both refuse the module; OPA's first error comes from another compiler stage.
            stats.codeMismatch++;
            appendFileSync(
              out,
              JSON.stringify({
                seed,
                module: k,
                kind: 'code',
                ours: o.compileError.code,
                opa: a.error.slice(0, 300),
                rego,
              }) + '\n',
            );
          } else stats.agree++;
          continue;
        }
        const errs = [...o.results].filter(([, x]) => x.kind === 'error');
        if (errs.length) {
          stats.evalErrors++;
          // OPA stops at the first error: evaluate each erring rule on its own.
          for (const [q, x] of errs) {
            const b = await ask(`${m.rules}\n${q}_probe_ if { _ = ${q} }`, [
              { id: 'k_err', rule: `${q}_probe_` },
            ]);
            if (!b) continue;
            const code = x.kind === 'error' ? x.code : '';
            if (b.ok)
              report({
                seed,
                module: k,
                query: q,
                ours: `${code}: ${x.kind === 'error' ? x.message : ''}`,
                opa: b.holds.size ? 'defined' : 'undefined',
                rego,
              });
            else if (opaCodes(b.error).every((c) => c === 'rego_type_error')) {
              stats.typeCheckGap++;
              appendFileSync(
                out,
                JSON.stringify({
                  seed,
                  module: k,
                  kind: 'type-check',
                  ours: code,
                  opa: b.error.slice(0, 300),
                  rego,
                }) + '\n',
              );
            } else if (opaCode(b.error) !== code)
              report({ seed, module: k, query: q, ours: code, opa: b.error.slice(0, 300), rego });
            else stats.agree++;
          }
          continue;
        }
        clean.push(k);
      }
      // Batch the modules that compiled and evaluated cleanly; bisect to single modules on an OPA error.
      const runSet = async (ks: number[]): Promise<void> => {
        const parts = ks.map((k) => ({ k, ...checksFor(k, mods[k]!, res[k]!) }));
        const rules = ks.map((k) => mods[k]!.rules).join('\n') + '\n' + parts.map((p) => p.rules).join('\n');
        const a = await ask(
          rules,
          parts.flatMap((p) => p.checks),
        );
        if (!a || !a.ok) {
          if (ks.length > 1) {
            for (const k of ks) await runSet([k]);
            return;
          }
          if (!a) return;
          const d = {
            seed,
            module: ks[0]!,
            ours: 'compiles and evaluates',
            opa: a.error.slice(0, 400),
            rego: HEADER + mods[ks[0]!]!.rules,
          };
          if (opaCodes(a.error).every((c) => c === 'rego_type_error')) {
            // OPA's type checker refuses what this engine runs (and answers undefined or a value for)
            stats.typeCheckGap++;
            appendFileSync(out, JSON.stringify({ ...d, kind: 'type-check' }) + '\n');
            if (stats.typeCheckGap <= 3)
              console.log(
                `\n--- OPA type error, this engine compiles (seed ${d.seed}, module ${d.module})\n${d.opa}\n${d.rego}`,
              );
            return;
          }
          report(d);
          return;
        }
        for (const k of ks) {
          for (const q of mods[k]!.queries) {
            const o = res[k]!.results.get(q)!;
            stats.queries++;
            const def = a.holds.has(`k${k}_${q}_def`);
            const eq = a.holds.has(`k${k}_${q}_eq`);
            const rego = HEADER + mods[k]!.rules;
            if (o.kind === 'undefined') {
              if (def) report({ seed, module: k, query: q, ours: 'undefined', opa: 'defined', rego });
              else stats.agree++;
            } else if (o.kind === 'value') {
              if (!eq)
                report({
                  seed,
                  module: k,
                  query: q,
                  ours: o.text,
                  opa: def ? `${oracle.value(mods[k]!.rules, q)} (JSON)` : 'undefined',
                  rego,
                });
              else stats.agree++;
            }
          }
        }
      };
      if (clean.length) await runSet(clean);
      seed++;
    }
    oracle.stop();
    console.log(
      `\nseeds ${seed0}..${seed - 1}: ${stats.modules} modules (${stats.compileErrors} compile errors, ${stats.evalErrors} with eval errors), ${stats.queries} rule values compared; agree ${stats.agree}, disagree ${stats.disagree} (unique ${seen.size}), explained ${stats.explained}; both refused with another first error code ${stats.codeMismatch}; OPA type errors where this engine compiles ${stats.typeCheckGap}; OPA crashed ${stats.oracleCrashes}; details in ${out}`,
    );
  }
}

void main();
