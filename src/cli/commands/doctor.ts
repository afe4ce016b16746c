import { isClientError } from '../../client/index.js';
import type { DoctorCheck } from '../../shared/api/system.js';
import type { EgressSelftestResult } from '../../shared/api/egress.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

type SelftestOutcome = { available: false; reason: string } | ({ available: true } & EgressSelftestResult);

/** `aibox doctor [--sandbox NAME]`: every prerequisite and layer, and (with a sandbox) its egress and packs. */
export async function doctor(ctx: CliContext, opts: { sandbox?: string }): Promise<void> {
  const sandbox = opts.sandbox === undefined ? undefined : ctx.sandboxName(opts.sandbox);
  const report = await ctx.client().system.doctor();
  const selftest = sandbox === undefined ? undefined : await egressSelftest(ctx, sandbox);
  const packs = sandbox === undefined ? undefined : await packSmoke(ctx, sandbox);
  const ok =
    report.ok &&
    (selftest === undefined || !selftest.available || selftest.ok) &&
    (packs?.checks.every((c) => c.ok) ?? true);
  if (!ok) ctx.exitCode = EXIT.failed;
  if (ctx.json) {
    ctx.printJson(selftest === undefined ? report : { ...report, ok, egressSelftest: selftest, packs });
    return;
  }
  ctx.out(`mode: ${report.mode} (${report.modeReason})`);
  printChecks(ctx, report.checks);
  if (selftest !== undefined) {
    ctx.out(`\negress self-test in sandbox ${sandbox}:`);
    if (!selftest.available) ctx.out(`  - not available: ${selftest.reason}`);
    else printChecks(ctx, selftest.checks);
  }
  if (packs !== undefined) {
    ctx.out(`\npacks in sandbox ${sandbox} (smoke tests):`);
    if (packs.checks.length === 0) ctx.out('  - none installed');
    for (const c of packs.checks) ctx.out(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
  }
  const failed =
    report.checks.filter((c) => !c.ok).length +
    (selftest?.available ? selftest.checks.filter((c) => !c.ok).length : 0) +
    (packs?.checks.filter((c) => !c.ok).length ?? 0);
  ctx.out(ok ? '\nall checks passed' : `\n${failed} check(s) failed`);
}

async function egressSelftest(ctx: CliContext, sandbox: string): Promise<SelftestOutcome> {
  try {
    return { available: true, ...(await ctx.client().sandboxes.egressSelftest(sandbox)) };
  } catch (err) {
    if (isClientError(err, 'API_ROUTE_NOT_FOUND')) {
      return { available: false, reason: 'this aiboxd has no egress self-test (API_ROUTE_NOT_FOUND)' };
    }
    throw err;
  }
}

/**
 * Each installed pack's smoke test in the sandbox; undefined from a daemon without packs (a sandbox it does not
 * know is reported by the egress self-test that runs first).
 */
async function packSmoke(ctx: CliContext, sandbox: string) {
  try {
    return await ctx.client().packs.smoke(sandbox);
  } catch (err) {
    if (isClientError(err, 'API_ROUTE_NOT_FOUND') || isClientError(err, 'SANDBOX_NOT_FOUND'))
      return undefined;
    throw err;
  }
}

function printChecks(ctx: CliContext, checks: readonly DoctorCheck[]): void {
  for (const check of checks) {
    ctx.out(`  ${check.ok ? '✓' : '✗'} ${check.name} [${check.layer}]: ${check.detail}`);
    if (!check.ok && check.fix) ctx.out(`      fix: ${check.fix}`);
  }
}
