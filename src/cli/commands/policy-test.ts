import { stat } from 'node:fs/promises';
import {
  RegoError,
  RegoErrors,
  formatPretty,
  loadPaths,
  runTestSuite,
  summarize,
  toOpaJson,
} from '../../rego/index.js';
import type { TestReport } from '../../rego/index.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { renderErrors } from './policy-eval.js';

interface TestOptions {
  verbose?: boolean;
  run?: string;
  format: 'pretty' | 'json';
  coverage?: boolean;
  threshold?: string;
  timeout?: string;
  v0Compatible?: boolean;
}

/** `aibox policy test`: offline, like `opa test`, on the project's own Rego engine. */
export async function policyTest(ctx: CliContext, paths: string[], opts: TestOptions): Promise<void> {
  for (const p of paths) {
    if (!(await stat(p).catch(() => undefined)))
      throw cliErrors.create('POLICY_FILE_UNREADABLE', `no such file or directory: ${p}`, { path: p });
  }
  const timeoutMs = opts.timeout === undefined ? undefined : Number(opts.timeout) * 1000;
  const threshold = opts.threshold === undefined ? 0 : Number(opts.threshold);
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    throw cliErrors.create('POLICY_EVAL_FAILED', `--timeout must be a positive number of seconds`);
  if (!(threshold >= 0 && threshold <= 100))
    throw cliErrors.create('POLICY_EVAL_FAILED', `--threshold must be a percentage between 0 and 100`);
  let report: TestReport;
  try {
    report = runTestSuite(loadPaths(paths), {
      ...(opts.run === undefined ? {} : { run: opts.run }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      coverage: opts.coverage === true,
      v0Compatible: opts.v0Compatible === true,
    });
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
    if (ctx.json || opts.format === 'json') ctx.printJson({ errors });
    else ctx.io.stderr.write(renderErrors(errors));
    return;
  }
  const { results } = report;
  const s = summarize(results);
  const failed = s.fail + s.error > 0;
  if (s.total === 0 || failed) ctx.exitCode = EXIT.failed;
  if (ctx.json) {
    // aibox's own shape: results, counts (skip only when some test was skipped), coverage when asked.
    const { skip, ...counts } = s;
    ctx.printJson({
      results,
      summary: skip ? s : counts,
      ...(report.coverage ? { coverage: report.coverage } : {}),
    });
    return;
  }
  if (s.total === 0) {
    ctx.note('no test cases found');
    return;
  }
  if (report.coverage) {
    // Like opa: failures are reported instead of coverage; coverage below --threshold fails.
    if (failed) {
      ctx.out(
        formatPretty(
          results.filter((r) => r.result !== 'pass'),
          { verbose: opts.verbose === true },
        ),
      );
      return;
    }
    if (report.coverage.coverage < threshold) {
      ctx.exitCode = EXIT.failed;
      ctx.io.stderr.write(
        `Code coverage threshold not met: got ${report.coverage.coverage.toFixed(2)} instead of ${threshold.toFixed(2)}\n`,
      );
      return;
    }
    ctx.out(JSON.stringify(report.coverage, null, 2));
    return;
  }
  if (opts.format === 'json') {
    ctx.out(JSON.stringify(toOpaJson(results), null, 2));
    return;
  }
  ctx.out(formatPretty(results, { verbose: opts.verbose === true }));
}
