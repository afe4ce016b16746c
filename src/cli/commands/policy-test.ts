import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { TestResult } from '../../rego/index.js';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { renderErrors } from './policy-eval.js';

interface TestOptions {
  verbose?: boolean;
}

/** `aibox policy test`: offline, like `opa test`, on the project's own Rego engine. */
export function register(program: Command, ctx: CliContext): void {
  commandGroup(program, 'policy', 'policy: evaluate, test, show and explain')
    .command('test')
    .argument('<paths...>', '.rego/.json/.yaml files or directories holding policies and their test_* rules')
    .option('-v, --verbose', 'list every test with its result and duration')
    .description('run Rego unit tests (rules named test_*), like `opa test` (exit 1 if any fails)')
    .action(async (paths: string[], opts: TestOptions) => {
      for (const p of paths) {
        if (!(await stat(p).catch(() => undefined)))
          throw cliErrors.create('POLICY_FILE_UNREADABLE', `no such file or directory: ${p}`, { path: p });
      }
      // Loaded on use: the Rego engine is the heaviest import of the CLI and most invocations never need it.
      const { RegoError, RegoErrors, loadPaths, runTests } = await import('../../rego/index.js');
      let results: TestResult[];
      try {
        results = runTests(loadPaths(paths));
      } catch (err) {
        // Parse and compile errors of the policies under test: shown like opa, with file:row:col.
        const errors =
          err instanceof RegoErrors
            ? err.errors.map((e) => e.toJSON())
            : err instanceof RegoError
              ? [err.toJSON()]
              : undefined;
        if (!errors) throw err;
        ctx.exitCode = EXIT.failed;
        if (ctx.json) ctx.printJson({ errors });
        else ctx.io.stderr.write(renderErrors(errors));
        return;
      }
      const summary = {
        total: results.length,
        pass: results.filter((r) => r.result === 'pass').length,
        fail: results.filter((r) => r.result === 'fail').length,
        error: results.filter((r) => r.result === 'error').length,
      };
      if (summary.total === 0 || summary.pass !== summary.total) ctx.exitCode = EXIT.failed;
      if (ctx.json) {
        ctx.printJson({ results, summary });
        return;
      }
      if (summary.total === 0) {
        ctx.note('no test cases found');
        return;
      }
      ctx.out(renderResults(results, summary, opts.verbose === true));
    });
}

function renderResults(
  results: readonly TestResult[],
  summary: { total: number; pass: number; fail: number; error: number },
  verbose: boolean,
): string {
  const lines: string[] = [];
  const shown = verbose ? results : results.filter((r) => r.result !== 'pass');
  let file = '';
  for (const r of shown) {
    if (r.location.file !== file) {
      if (file) lines.push('');
      file = r.location.file;
      lines.push(`${file}:`);
    }
    const ms = r.durationMs < 1 ? `${Math.round(r.durationMs * 1000)}µs` : `${r.durationMs.toFixed(1)}ms`;
    const detail = r.error ? `\n  ${r.error.code}: ${r.error.message}` : '';
    lines.push(`${r.package}.${r.name}: ${r.result.toUpperCase()} (${ms})${detail}`);
  }
  if (shown.length) lines.push('-'.repeat(80));
  lines.push(`PASS: ${summary.pass}/${summary.total}`);
  if (summary.fail) lines.push(`FAIL: ${summary.fail}/${summary.total}`);
  if (summary.error) lines.push(`ERROR: ${summary.error}/${summary.total}`);
  return lines.join('\n');
}
