/**
 * Public Rego libraries' own `*_test.rego` suites (vendored under test/rego/libraries, see its README) run through
 * the engine's `opa test` runner. passing.txt lists the tests known to pass: it may only grow. Re-run with
 * AIBOX_UPDATE_RATCHET=1 to add newly passing tests to it (never removes one).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIBRARIES_DIR, runLibrarySuites } from './libraries/suites.js';

const ratchetFile = join(LIBRARIES_DIR, 'passing.txt');

function readRatchet(): string[] {
  return readFileSync(ratchetFile, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

describe('public Rego libraries (opa test suites)', () => {
  it('passes every test listed in passing.txt (the ratchet never shrinks)', () => {
    const { results, broken } = runLibrarySuites();
    const passing = readRatchet();
    expect(passing.length).toBeGreaterThan(1000);
    const regressions = passing
      .filter((id) => results.get(id)?.result !== 'pass')
      .map((id) => {
        const r = results.get(id);
        const suite = id.split(' ')[0]!;
        return `${id}: ${r ? `${r.result}${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}` : (broken.get(suite) ?? 'not found')}`;
      });
    const nowPassing = [...results].filter(([, r]) => r.result === 'pass').map(([id]) => id);
    if (process.env.AIBOX_UPDATE_RATCHET === '1') {
      const merged = [...new Set([...passing, ...nowPassing])].sort();
      writeFileSync(ratchetFile, merged.join('\n') + '\n');
    }
    expect(regressions, regressions.join('\n')).toEqual([]);
    // Both libraries pass 100% today: every suite loads and every test passes (none needs a non-OPA builtin).
    expect([...broken].map(([id, e]) => `${id}: ${e}`)).toEqual([]);
    const failing = [...results]
      .filter(([, r]) => r.result !== 'pass')
      .map(([id, r]) => `${id}: ${r.result}`);
    expect(failing, failing.join('\n')).toEqual([]);
    expect(results.size).toBe(passing.length);
  }, 120_000);
});
