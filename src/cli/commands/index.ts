import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import * as doctor from './doctor.js';
import * as exec from './exec.js';
import * as list from './list.js';
import * as logs from './logs.js';
import * as rm from './rm.js';
import * as setup from './setup.js';
import * as start from './start.js';
import * as status from './status.js';
import * as stop from './stop.js';
import * as update from './update.js';
import * as version from './version.js';
import * as policyEval from './policy-eval.js';
import * as policyTest from './policy-test.js';
import * as policyShow from './policy-show.js';
import * as policyExplain from './policy-explain.js';
import * as audit from './audit.js';
import * as secret from './secret.js';
import * as sshKey from './ssh-key.js';
import * as sshConfig from './ssh-config.js';
import * as push from './push.js';
import * as task from './task.js';
import * as pack from './pack.js';
import * as install from './install.js';
import * as uninstall from './uninstall.js';
import * as packs from './packs.js';
import * as mcp from './mcp.js';

/** Every command file exports `register(program, ctx)` and adds its own command (or subcommand of a group). */
export interface CommandModule {
  register(program: Command, ctx: CliContext): void;
}

/**
 * The commands of `aibox`, in the order `aibox --help` lists them.
 * To add a command: create `src/cli/commands/<noun>.ts` exporting `register`, add its import above and one entry to this list.
 * Subcommands of a noun (`aibox policy eval`) use `commandGroup(program, 'policy', …)` from `../command-group.js`.
 */
const COMMANDS: readonly CommandModule[] = [
  setup,
  start,
  stop,
  rm,
  list,
  status,
  exec,
  logs,
  doctor,
  update,
  version,
  policyEval,
  policyTest,
  // colleagues: one line per command module below this comment
  policyShow,
  policyExplain,
  audit,
  secret,
  sshKey,
  sshConfig,
  push,
  task,
  pack,
  install,
  uninstall,
  packs,
  mcp,
];

export function registerCommands(program: Command, ctx: CliContext): void {
  for (const command of COMMANDS) command.register(program, ctx);
}
