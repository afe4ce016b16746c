import { stat } from 'node:fs/promises';
import path from 'node:path';
import { isClientError } from '../../client/index.js';
import type { SandboxReport } from '../../shared/api/sandboxes.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { renderSandbox } from '../render/sandbox.js';

interface StartOptions {
  name?: string;
  profile?: string;
  /** false with --no-devcontainer. */
  devcontainer?: boolean;
}

/** `aibox start [PATH] [--name N] [--profile P]`; `--name N` alone starts a stopped sandbox again. */
export async function start(ctx: CliContext, pathArg: string | undefined, opts: StartOptions): Promise<void> {
  const name = opts.name === undefined ? undefined : ctx.sandboxName(opts.name);
  const sandbox =
    pathArg === undefined && name !== undefined
      ? ((await restart(ctx, name)) ?? (await create(ctx, ctx.io.cwd, name, opts.profile, opts.devcontainer)))
      : await create(ctx, pathArg ?? ctx.io.cwd, name, opts.profile, opts.devcontainer);
  if (ctx.json) {
    ctx.printJson(sandbox);
    return;
  }
  ctx.out(renderSandbox(sandbox));
  if (sandbox.devcontainer) {
    // A lifecycle command that failed or was refused leaves the sandbox running, as VS Code does; the exit says it.
    const { renderSummary } = await import('./devcontainer.js');
    const summary = renderSummary(sandbox.name, sandbox.devcontainer);
    ctx.out();
    for (const line of summary.out) ctx.out(line);
    if (summary.failed) ctx.exitCode = 1;
  }
  ctx.out(`\nrun a command: aibox exec ${sandbox.name} -- bash`);
}

async function create(
  ctx: CliContext,
  folder: string,
  name: string | undefined,
  profile: string | undefined,
  devcontainer: boolean | undefined,
) {
  const absolute = path.resolve(ctx.io.cwd, folder);
  const info = await stat(absolute).catch(() => undefined);
  if (!info) throw cliErrors.create('CLI_PATH_NOT_FOUND', `no such folder: ${absolute}`, { path: absolute });
  if (!info.isDirectory())
    throw cliErrors.create('CLI_PATH_NOT_DIRECTORY', `not a folder: ${absolute}`, { path: absolute });
  return ctx.client().sandboxes.create({
    path: absolute,
    ...(name === undefined ? {} : { name }),
    ...(profile === undefined ? {} : { profile }),
    ...(devcontainer === false ? { devcontainer: false } : {}),
  });
}

/** `aibox start --name X` on an existing sandbox starts it again (or reports it running); undefined if unknown. */
async function restart(ctx: CliContext, name: string): Promise<SandboxReport | undefined> {
  let existing: SandboxReport;
  try {
    existing = await ctx.client().sandboxes.get(name);
  } catch (err) {
    if (isClientError(err, 'SANDBOX_NOT_FOUND')) return undefined;
    throw err;
  }
  if (existing.state === 'running') return existing;
  return ctx.client().sandboxes.start(name);
}
