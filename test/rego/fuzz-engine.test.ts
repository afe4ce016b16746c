/**
 * Engine robustness on generated modules (the differential fuzzer's generator, scripts/rego-fuzz-gen.ts) and
 * mutations of them: parsing, compiling and evaluating never throws anything but a RegoError, and never runs past
 * the evaluation limit. (Parser-only fuzzing of truncations and token soup is in fuzz.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { genModule, rng } from '../../scripts/rego-fuzz-gen.js';
import { Engine, RegoError, RegoErrors } from '../../src/rego/index.js';
import { parseModule } from '../../src/rego/parser.js';

const HEADER = 'package fz\nimport rego.v1\n';
const LIMIT_MS = 300;

function mutations(text: string, r: () => number): string[] {
  const lines = text.split('\n');
  const i = Math.floor(r() * lines.length);
  const pos = Math.floor(r() * text.length);
  return [
    text,
    lines.filter((_, j) => j !== i).join('\n'), // a line dropped
    [...lines.slice(0, i), lines[i]!, ...lines.slice(i)].join('\n'), // a line repeated
    text.slice(0, pos) + text.slice(pos + 1), // a character dropped
    text.slice(0, pos) + text.slice(pos).replace(/\b(if|in|not|some|every|contains)\b/, ''), // a keyword dropped
  ];
}

function codeOf(e: unknown): string {
  if (e instanceof RegoErrors) return e.errors[0]!.code;
  if (e instanceof RegoError) return e.code;
  return `not a RegoError: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
}

describe('engine robustness on generated and mutated modules', () => {
  it('only RegoErrors, and every evaluation ends within its limit', () => {
    const bad: string[] = [];
    const slow: string[] = [];
    let evaluated = 0;
    for (let seed = 0; seed < 60; seed++) {
      const r = rng(seed);
      for (let k = 0; k < 4; k++) {
        const m = genModule(r, k);
        for (const text of mutations(m.rules, r)) {
          const src = HEADER + text;
          const engine = new Engine({ limits: { timeoutMs: LIMIT_MS } });
          try {
            engine.addParsedModule(parseModule('fz.rego', src));
            engine.compile();
          } catch (e) {
            const c = codeOf(e);
            if (!c.startsWith('rego_')) bad.push(`${c}\n${src}`);
            continue;
          }
          for (const q of m.queries) {
            const t0 = Date.now();
            try {
              engine.evalRule(`data.fz.${q}`);
              evaluated++;
            } catch (e) {
              const c = codeOf(e);
              const msg = e instanceof Error ? e.message : '';
              // unsafe variables are refused at compile time: any internal error at run time is a bug
              if (c.startsWith('not a RegoError') || c === 'eval_internal_error')
                bad.push(`${c}: ${msg}\n${src}\n# query ${q}`);
            }
            if (Date.now() - t0 > LIMIT_MS + 700) slow.push(`${q}: ${Date.now() - t0} ms\n${src}`);
          }
        }
      }
    }
    expect(evaluated).toBeGreaterThan(250);
    expect(bad, bad.slice(0, 3).join('\n\n')).toEqual([]);
    expect(slow, slow.slice(0, 3).join('\n\n')).toEqual([]);
  }, 120_000);
});
