/**
 * OPA conformance runner.
 *   npm run conformance [-- --filter FOLDER] [--json FILE] [--verbose] [--update-ratchet]
 * Suite location: $AIBOX_OPA_CONFORMANCE or ../shared/opa-conformance/v1 (relative to the repository).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSuiteDir, formatReport, loadSkips, runSuite } from './conformance/harness.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ratchetDir = join(repo, 'test/rego/conformance');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const dir = defaultSuiteDir(repo);
if (!existsSync(dir)) {
  console.error(`conformance suite not found at ${dir} (set AIBOX_OPA_CONFORMANCE)`);
  process.exit(2);
}
const filter = arg('--filter');
const report = runSuite(dir, { filter, skips: loadSkips(join(ratchetDir, 'skip.yaml')) });
console.log(formatReport(report));
if (process.argv.includes('--verbose')) {
  for (const r of report.results)
    if (r.outcome === 'fail')
      console.log(`\nFAIL ${r.id} (${r.note})\n  ${r.reason?.split('\n').join('\n  ')}`);
}
const json = arg('--json');
if (json) {
  const { results, ...summary } = report;
  writeFileSync(
    json,
    JSON.stringify({ ...summary, failures: results.filter((r) => r.outcome === 'fail') }, null, 2),
  );
}
if (process.argv.includes('--update-ratchet')) {
  if (filter) {
    console.error('--update-ratchet runs over the whole suite; drop --filter');
    process.exit(2);
  }
  const passing = report.results
    .filter((r) => r.outcome === 'pass')
    .map((r) => r.id)
    .sort();
  writeFileSync(join(ratchetDir, 'passing.txt'), passing.join('\n') + '\n');
  console.log(`ratchet updated: ${passing.length} passing cases`);
}
