// Everything `aibox` can do, as light metadata (no command code): the program tree, help and shell completion are
// built from it; a command's module is imported only when the command runs. To add a command: add its spec to the
// domain file here (in `aibox --help` order) and write its action in ../commands/.
import type { CommandSpec, GroupSpec } from '../spec.js';
import { ACCESS_COMMANDS, ACCESS_GROUPS } from './access.js';
import { GIT_COMMANDS, GIT_GROUPS } from './git.js';
import { PACK_COMMANDS, PACK_GROUPS } from './packs.js';
import { POLICY_COMMANDS, POLICY_GROUPS } from './policy.js';
import { SANDBOX_COMMANDS } from './sandboxes.js';
import { SESSION_COMMANDS, SESSION_GROUPS } from './sessions.js';

export const GROUPS: readonly GroupSpec[] = [
  ...POLICY_GROUPS,
  ...ACCESS_GROUPS,
  ...GIT_GROUPS,
  ...PACK_GROUPS,
  ...SESSION_GROUPS,
];

export const COMMANDS: readonly CommandSpec[] = [
  ...SANDBOX_COMMANDS,
  ...POLICY_COMMANDS,
  ...ACCESS_COMMANDS,
  ...GIT_COMMANDS,
  ...PACK_COMMANDS,
  ...SESSION_COMMANDS,
  {
    name: 'completion',
    description: 'print the shell completion script: `source <(aibox completion bash)` (e.g. in ~/.bashrc)',
    args: [['<shell>', 'bash']],
    run: () => import('../completion.js').then((m) => m.completion),
  },
];
