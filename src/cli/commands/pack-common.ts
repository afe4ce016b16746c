import { PacksApi } from '../../client/index.js';
import { defineErrors } from '../../shared/index.js';
import type { CliContext } from '../context.js';

export const packCliErrors = defineErrors({
  PACK_SANDBOX_REQUIRED: {
    status: 400,
    hint: 'Name the sandbox with --sandbox NAME (`aibox list` shows them); it may be left out only when you have exactly one.',
  },
  PACK_LINT_FAILED: {
    status: 400,
    hint: 'Fix the manifests at the files and lines shown, then run `aibox pack lint` again.',
  },
  PACK_SMOKE_FAILED: {
    status: 400,
    hint: "A pack's smoke test failed inside the sandbox; see the detail line, then reinstall the pack.",
  },
});

export function packsApi(ctx: CliContext): PacksApi {
  return new PacksApi(ctx.client());
}

/** The sandbox a pack command is for: --sandbox, or the caller's only sandbox. */
export async function targetSandbox(ctx: CliContext, given: string | undefined): Promise<string> {
  if (given !== undefined) return ctx.sandboxName(given);
  const all = await ctx.client().listSandboxes();
  if (all.length === 1) return all[0]!.name;
  throw packCliErrors.create(
    'PACK_SANDBOX_REQUIRED',
    all.length === 0 ? 'you have no sandbox' : `you have ${all.length} sandboxes: which one?`,
  );
}
