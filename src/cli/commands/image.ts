import type { ImageBuildDone } from '../../client/index.js';
import type { CliContext } from '../context.js';
import { createProgressDisplay } from '../render/progress.js';

/** `aibox setup`: build the base image, or report it ready. */
export function setup(ctx: CliContext): Promise<void> {
  return buildBaseImage(ctx, false);
}

/** `aibox update`: rebuild the base image from scratch. */
export function update(ctx: CliContext): Promise<void> {
  return buildBaseImage(ctx, true);
}

/** A progress display on stderr and the result on stdout. */
async function buildBaseImage(ctx: CliContext, force: boolean): Promise<void> {
  const progress = await createProgressDisplay(ctx.io.stderr, !ctx.json);
  let done: ImageBuildDone;
  try {
    done = await ctx.client().system.buildBaseImage({ force }, (event) => progress.onEvent(event));
  } finally {
    progress.stop();
  }
  if (ctx.json) ctx.printJson({ image: done.image, cached: done.cached, seconds: done.seconds });
  else if (done.cached) ctx.out(`base image ${done.image} is ready (cached; \`aibox update\` rebuilds it)`);
  else ctx.out(`base image ${done.image} built in ${done.seconds.toFixed(1)} s`);
}
