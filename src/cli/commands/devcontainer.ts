import { stat } from 'node:fs/promises';
import path from 'node:path';
import { devcontainerPlan, readDevcontainer, type DevcontainerPlan } from '../../devcontainer/index.js';
import type { DevcontainerSummary } from '../../shared/api/sandboxes.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';

/**
 * `aibox devcontainer check [PATH]`: offline, what `aibox start` would do with the project's devcontainer.json, key
 * by key. The doors (packs, egress, mounts, exec) decide at start; pack versions are matched there too.
 */
export async function check(ctx: CliContext, pathArg: string | undefined): Promise<void> {
  const folder = path.resolve(ctx.io.cwd, pathArg ?? '.');
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory())
    throw cliErrors.create('CLI_PATH_NOT_DIRECTORY', `not a folder: ${folder}`, { path: folder });
  const source = await readDevcontainer(folder);
  if (!source) {
    if (ctx.json) ctx.printJson({ file: null });
    else ctx.out(`no devcontainer.json in ${folder} (.devcontainer/devcontainer.json or .devcontainer.json)`);
    return;
  }
  const plan = devcontainerPlan(source, {
    localWorkspaceFolder: folder,
    containerWorkspaceFolder: '/workspace',
    devcontainerId: 'check',
    sandboxUser: 'agent',
    sandboxUid: 1001,
  });
  if (ctx.json) {
    ctx.printJson(plan);
    return;
  }
  for (const line of renderPlan(plan)) ctx.out(line);
}

export function renderPlan(plan: DevcontainerPlan): string[] {
  const width = Math.min(64, Math.max(...plan.keys.map((k) => k.key.length), 3));
  const lines = [`${plan.file}:`];
  for (const k of plan.keys) lines.push(`  ${k.key.padEnd(width)}  ${k.status.padEnd(11)}  ${k.detail}`);
  if (plan.packs.length > 0)
    lines.push(`packs: ${plan.packs.map((p) => `${p.name}${p.version ? `@${p.version}` : ''}`).join(', ')}`);
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  return lines;
}

/** What `aibox start` prints of the daemon's devcontainer summary: warnings, commands, forwarded ports. */
export function renderSummary(name: string, dc: DevcontainerSummary): { out: string[]; failed: boolean } {
  const out = [`devcontainer: ${dc.file}${dc.packs.length ? ` (packs: ${dc.packs.join(', ')})` : ''}`];
  for (const w of dc.warnings) out.push(`  warning: ${w}`);
  for (const k of dc.keys.filter((k) => k.status === 'unsupported'))
    out.push(`  unsupported: ${k.key}: ${k.detail}`);
  let failed = false;
  for (const c of dc.commands) {
    if (c.refused !== undefined) {
      out.push(`  ${c.from}: refused by the exec door: ${c.refused}`);
      failed = true;
    } else {
      out.push(`  ${c.from}: exit ${c.exitCode ?? '?'}${c.timedOut ? ' (timed out)' : ''}`);
      if (c.exitCode !== 0) {
        failed = true;
        for (const l of (c.output ?? '').trimEnd().split('\n').slice(-10)) out.push(`    | ${l}`);
      }
    }
  }
  for (const p of dc.forwardPorts)
    out.push(`  forward port ${p}: ssh -N -L ${p}:localhost:${p} aibox-${name}`);
  if (dc.forwardPorts.length > 0)
    out.push('  (the aibox-NAME host entries come from `aibox ssh-config --write`)');
  return { out, failed };
}
