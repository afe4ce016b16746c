import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultSuiteDir, loadSkips, runSuite } from '../../scripts/conformance/harness.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const here = join(repo, 'test/rego/conformance');
const suite = defaultSuiteDir(repo);
const present = existsSync(suite);
const inCI = process.env.CI === 'true' || process.env.CI === '1';

describe('OPA conformance ratchet', () => {
  it.skipIf(present || inCI)(
    `skips because the OPA conformance suite is absent at ${suite} (set AIBOX_OPA_CONFORMANCE)`,
    () => {
      expect(present).toBe(false);
    },
  );

  it.runIf(!present && inCI)('fails in CI when the OPA conformance suite is absent', () => {
    expect.fail(
      `OPA conformance suite not found at ${suite}: set AIBOX_OPA_CONFORMANCE or check out ../shared`,
    );
  });

  it.runIf(present)(
    'passes every case listed in passing.txt (the ratchet never shrinks)',
    () => {
      const passing = readFileSync(join(here, 'passing.txt'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0);
      expect(passing.length).toBeGreaterThan(0);
      const report = runSuite(suite, { only: new Set(passing), skips: loadSkips(join(here, 'skip.yaml')) });
      const byId = new Map(report.results.map((r) => [r.id, r]));
      const regressions = passing
        .filter((id) => byId.get(id)?.outcome !== 'pass')
        .map((id) => `${id}: ${byId.get(id)?.reason ?? 'case not found or skipped'}`);
      expect(regressions, regressions.join('\n')).toEqual([]);
    },
    120_000,
  );
});
