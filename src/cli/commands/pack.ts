import type { PackBuildDone } from '../../client/index.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { createProgressDisplay } from '../render/progress.js';

/** `aibox pack build PACK [--force]`: into the host's shared cache. */
export async function build(ctx: CliContext, ref: string, opts: { force?: boolean }): Promise<void> {
  const progress = await createProgressDisplay(ctx.io.stderr, !ctx.json);
  let done: PackBuildDone;
  try {
    done = await ctx.client().packs.build(ref, opts.force === true, (e) => {
      if (e.type === 'progress') progress.onEvent(e);
    });
  } finally {
    progress.stop();
  }
  if (ctx.json) return ctx.printJson(done);
  const b = done.built;
  ctx.out(
    `${b.name}@${b.version} ${done.cached ? 'is cached' : `built in ${(done.ms / 1000).toFixed(1)} s`}: ${b.key} (${mib(b.sizeBytes)}, ${b.debs.length} Debian packages)`,
  );
}

/** `aibox pack list`: the registry's packs and what the cache holds. */
export async function list(ctx: CliContext): Promise<void> {
  const c = await ctx.client().packs.catalogue();
  if (ctx.json) return ctx.printJson(c);
  for (const m of c.packs) {
    const built = c.built.filter((b) => b.name === m.name);
    const versions = Object.keys(m.versions)
      .map((v) => `${v}${v === m.default ? '*' : ''}${built.some((b) => b.version === v) ? ' (built)' : ''}`)
      .join(', ');
    ctx.out(`${m.name.padEnd(16)} ${m.kind.padEnd(4)} ${versions.padEnd(24)} ${m.description}`);
  }
  for (const p of c.problems) ctx.note(`broken manifest: ${p}`);
}

/** `aibox pack rm PACK`: from the host cache. */
export async function rm(ctx: CliContext, ref: string): Promise<void> {
  const r = await ctx.client().packs.removeFromCache(ref);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(r.removed.length ? `removed ${r.removed.join(', ')}` : `${ref} was not in the cache`);
}

/** `aibox pack lint`: the daemon's pack-registry manifests, with file and line of each problem. */
export async function lint(ctx: CliContext): Promise<void> {
  const r = await ctx.client().packs.lint();
  if (ctx.json) ctx.printJson(r);
  else {
    for (const p of r.problems) ctx.out(p);
    if (r.problems.length === 0) ctx.out(`${r.packs.length} manifests in ${r.dir}: ok`);
  }
  if (r.problems.length > 0)
    throw cliErrors.create('PACK_LINT_FAILED', `${r.problems.length} problem(s) in ${r.dir}`);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
