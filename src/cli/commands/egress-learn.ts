import type { LearnReport } from '../../shared/api/proposals.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { durationSeconds } from '../../shared/duration.js';

/** `90s`, `10m`, `1h` (a bare number is seconds) → seconds, between 5 seconds and 4 hours. */
export function parseDuration(text: string): number {
  const seconds = durationSeconds(text, { bareSeconds: true });
  if (seconds === undefined)
    throw cliErrors.create('CLI_USAGE', `--for ${JSON.stringify(text)}: a duration like 90s, 10m or 1h`);
  if (seconds < 5 || seconds > 4 * 3600)
    throw cliErrors.create('CLI_USAGE', '--for must be between 5 seconds and 4 hours');
  return seconds;
}

/**
 * `aibox egress learn S [--for 10m]`: the daemon runs the sandbox on its org/team egress ceiling (the project file's
 * narrowing lifted) and records every host, port, method and path for the duration; then this prints
 * the proposed aibox/policy.yaml as a diff on stdout, and what was seen on stderr. Nothing is written: review the
 * diff and apply it (or let the agent propose changes one by one).
 */
export async function egressLearn(
  ctx: CliContext,
  sandbox: string,
  opts: { for?: string },
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  const name = ctx.sandboxName(sandbox);
  const seconds = parseDuration(opts.for ?? '10m');
  const client = ctx.client().proposals;
  const started = await client.learn(name, seconds);
  ctx.note(`learning the egress of ${name} until ${started.until} …`);
  let report: LearnReport = started;
  const deadline = Date.parse(started.until) + 60_000;
  while (report.state === 'running') {
    await sleep(Math.min(2_000, Math.max(200, Date.parse(report.until) - Date.now() + 200)));
    report = await client.learning(name);
    if (report.state === 'running' && Date.now() > deadline)
      throw cliErrors.create('CLI_INTERNAL', `the learn run of ${name} did not finish in time`);
  }
  if (ctx.json) return ctx.printJson(report);
  if (report.state === 'failed') {
    ctx.exitCode = 1;
    ctx.note(`learn run failed: ${report.error ?? 'unknown error'}`);
  }
  for (const h of report.hosts) {
    const how = h.forbiddenBy
      ? `forbidden by ${h.forbiddenBy}`
      : h.allowedBefore
        ? 'allowed already'
        : 'refused by the project file (allowed during the run)';
    const detail = [h.ports.join(','), h.methods.join(','), h.paths.slice(0, 5).join(' ')].filter(Boolean);
    ctx.note(`  ${h.host} ${detail.join(' ')} (${h.count}×): ${how}`);
  }
  if (report.hosts.length === 0) ctx.note('no egress was seen');
  if (report.diff) ctx.io.stdout.write(report.diff);
  else if (report.state === 'done') ctx.note('aibox/policy.yaml needs no change');
}
