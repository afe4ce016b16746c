import type { Command } from 'commander';
import { buildBaseImage } from '../build-image.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('update')
    .description('rebuild the sandbox base image from scratch (fresh packages and security fixes)')
    .action(async () => {
      await buildBaseImage(ctx, true);
    });
}
