import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';

/** The sandbox a pack command is for: --sandbox, or the caller's only sandbox. */
export async function targetSandbox(ctx: CliContext, given: string | undefined): Promise<string> {
  if (given !== undefined) return ctx.sandboxName(given);
  const all = await ctx.client().sandboxes.list();
  if (all.length === 1) return all[0]!.name;
  throw cliErrors.create(
    'PACK_SANDBOX_REQUIRED',
    all.length === 0 ? 'you have no sandbox' : `you have ${all.length} sandboxes: which one?`,
  );
}

/** `aibox install PACK`: into a running sandbox, read-only under /opt/aibox/packs, no restart. */
export async function install(ctx: CliContext, ref: string, opts: { sandbox?: string }): Promise<void> {
  const sandbox = await targetSandbox(ctx, opts.sandbox);
  const r = await ctx.client().packs.install(sandbox, ref);
  if (ctx.json) return ctx.printJson(r);
  for (const p of r.installed) {
    ctx.out(`installed ${p.name}@${p.version} in ${sandbox} at ${p.path}`);
    for (const g of p.egress ?? []) ctx.out(`  egress ${g.host}:${g.port} allowed by policy (${g.decision})`);
  }
  ctx.note(`(${r.ms} ms; new commands in ${sandbox} find it on PATH)`);
}

/** `aibox uninstall PACK`. */
export async function uninstall(ctx: CliContext, name: string, opts: { sandbox?: string }): Promise<void> {
  const sandbox = await targetSandbox(ctx, opts.sandbox);
  const r = await ctx.client().packs.uninstall(sandbox, name);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(`removed ${name} from ${sandbox}`);
}

/** `aibox packs`: what a sandbox has installed. */
export async function installed(ctx: CliContext, opts: { sandbox?: string }): Promise<void> {
  const sandbox = await targetSandbox(ctx, opts.sandbox);
  const r = await ctx.client().packs.installed(sandbox);
  if (ctx.json) return ctx.printJson(r);
  if (r.packs.length === 0) return ctx.out(`no packs in ${sandbox} (add one with \`aibox install NAME\`)`);
  for (const p of r.packs)
    ctx.out(
      `${`${p.name}@${p.version}`.padEnd(28)} ${p.kind}${p.mcpEnabled ? ' (MCP enabled)' : ''}${p.via === 'project' ? ' (aibox/policy.yaml)' : ''}  ${p.path}${(p.egress ?? []).length ? `  egress: ${p.egress!.map((g) => `${g.host}:${g.port}`).join(', ')}` : ''}`,
    );
}
