import type { Command } from 'commander';
import { buildBaseImage } from '../build-image.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('setup')
    .description(
      'build the sandbox base image (debootstrap + podman import); instant when it is already built',
    )
    .action(async () => {
      await buildBaseImage(ctx, false);
    });
}
