#!/usr/bin/env node
import { Command } from 'commander';
import { loadDaemonConfig } from '../config/index.js';
import { startDaemon } from '../daemon/index.js';
import { isAiboxError, messageOf } from '../shared/index.js';
import { packageVersion } from '../shared/version.js';

const program = new Command('aiboxd')
  .description(
    'aibox daemon: runs policy-enforced gVisor sandboxes and serves the aibox API on a unix socket',
  )
  .version(packageVersion())
  .option('--config <file>', 'configuration file (merged over config/aiboxd.yaml)')
  .option('--socket <path>', 'unix socket to listen on')
  .option('--state-dir <dir>', 'directory for state, logs and keys')
  .action(async (opts: { config?: string; socket?: string; stateDir?: string }) => {
    try {
      const config = await loadDaemonConfig(opts.config, { socket: opts.socket, stateDir: opts.stateDir });
      const daemon = await startDaemon(config, packageVersion());
      const shutdown = (signal: string) => {
        daemon.services.logger.info({ signal }, 'shutting down (sandboxes keep running and are re-adopted)');
        void daemon.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    } catch (err) {
      if (isAiboxError(err)) {
        process.stderr.write(`aiboxd: error: ${err.message}\n  hint: ${err.hint}\n  code: ${err.code}\n`);
      } else {
        process.stderr.write(`aiboxd: error: ${messageOf(err)}\n`);
      }
      process.exit(1);
    }
  });

await program.parseAsync(process.argv);
