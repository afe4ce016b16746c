import type { Command } from 'commander';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';
import { createProgressDisplay } from '../render/progress.js';
import { packCliErrors, packsApi } from './pack-common.js';

/** `aibox pack build|list|rm|lint`: the host's pack cache and the registry's manifests. */
export function register(program: Command, ctx: CliContext): void {
  const group = commandGroup(program, 'pack', 'tool and MCP packs: the registry and the host cache');

  group
    .command('build')
    .argument('<pack>', 'NAME or NAME@VERSION')
    .option('--force', 'build again even when the cache has it')
    .description('build a pack into the shared cache (once per host)')
    .action(async (ref: string, opts: { force?: boolean }) => {
      const progress = await createProgressDisplay(ctx.io.stderr, !ctx.json);
      let done;
      try {
        done = await packsApi(ctx).build(ref, opts.force === true, (e) => {
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
    });

  group
    .command('list')
    .alias('ls')
    .description('list the packs of the registry and what the cache holds')
    .action(async () => {
      const c = await packsApi(ctx).catalogue();
      if (ctx.json) return ctx.printJson(c);
      for (const m of c.packs) {
        const built = c.built.filter((b) => b.name === m.name);
        const versions = Object.keys(m.versions)
          .map(
            (v) => `${v}${v === m.default ? '*' : ''}${built.some((b) => b.version === v) ? ' (built)' : ''}`,
          )
          .join(', ');
        ctx.out(`${m.name.padEnd(16)} ${m.kind.padEnd(4)} ${versions.padEnd(24)} ${m.description}`);
      }
      for (const p of c.problems) ctx.note(`broken manifest: ${p}`);
    });

  group
    .command('rm')
    .argument('<pack>', 'NAME (every version) or NAME@VERSION')
    .description('remove a pack from the host cache (refused while a sandbox has it installed)')
    .action(async (ref: string) => {
      const r = await packsApi(ctx).removeFromCache(ref);
      if (ctx.json) return ctx.printJson(r);
      ctx.out(r.removed.length ? `removed ${r.removed.join(', ')}` : `${ref} was not in the cache`);
    });

  group
    .command('lint')
    .description("check the daemon's pack-registry manifests (file and line of each problem)")
    .action(async () => {
      const r = await packsApi(ctx).lint();
      if (ctx.json) ctx.printJson(r);
      else {
        for (const p of r.problems) ctx.out(p);
        if (r.problems.length === 0) ctx.out(`${r.packs.length} manifests in ${r.dir}: ok`);
      }
      if (r.problems.length > 0)
        throw packCliErrors.create('PACK_LINT_FAILED', `${r.problems.length} problem(s) in ${r.dir}`);
    });
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
