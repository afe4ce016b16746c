import { execa } from 'execa';
import type { CommandRunner } from './notify.js';

/** Runs the notification command with the notification JSON on stdin, without the daemon's environment. */
export const runNotifyCommand: CommandRunner = async (argv, input, timeoutMs) => {
  const [cmd, ...args] = argv;
  if (!cmd) return;
  await execa(cmd, args, {
    input,
    timeout: timeoutMs,
    extendEnv: false,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
};
