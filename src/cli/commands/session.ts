import type { CliContext } from '../context.js';

/** `aibox session list` and `aibox session rm ID`, for operators (root sees every session; others their own). */
export async function list(ctx: CliContext): Promise<void> {
  const { sessions } = await ctx.client().sessions.list();
  if (ctx.json) return ctx.printJson({ sessions });
  if (sessions.length === 0) return ctx.note('no sessions');
  ctx.out(
    `${'ID'.padEnd(21)} ${'OWNER'.padEnd(17)} ${'PROFILE'.padEnd(9)} ${'CREATED'.padEnd(24)} IDLE UNTIL / EXPIRES`,
  );
  for (const s of sessions) {
    ctx.out(
      `${s.id.padEnd(21)} ${s.owner.padEnd(17)} ${s.profile.padEnd(9)} ${s.createdAt.padEnd(24)} ${s.idleExpiresAt} / ${s.expiresAt}`,
    );
  }
}

export async function rm(ctx: CliContext, id: string): Promise<void> {
  const report = await ctx.client().sessions.remove(id);
  if (ctx.json) return ctx.printJson(report);
  ctx.out(`session ${report.removed} removed`);
}
