import type { CommandSpec } from '../spec.js';

const SANDBOX = ['<name>', 'sandbox name', 'sandbox'] as const;

/** The sandbox lifecycle and the daemon itself. */
export const SANDBOX_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'setup',
    description:
      'build the sandbox base image (debootstrap + podman import); instant when it is already built',
    run: () => import('../commands/image.js').then((m) => m.setup),
  },
  {
    name: 'start',
    description: 'start a sandbox on a project folder, or start a stopped sandbox again with --name alone',
    args: [['[path]', 'project folder mounted at /workspace (default: the current directory)', 'file']],
    options: [
      {
        flags: '-n, --name <name>',
        description: 'sandbox name (default: chosen by the daemon from the folder)',
      },
      { flags: '-p, --profile <profile>', description: 'security profile from profiles/ (default: default)' },
      {
        flags: '--no-devcontainer',
        description:
          "ignore the project's devcontainer.json (applied by default: `aibox devcontainer check`)",
      },
    ],
    run: () => import('../commands/start.js').then((m) => m.start),
  },
  {
    name: 'stop',
    description:
      'stop a sandbox (its workspace and settings stay; `aibox start --name NAME` starts it again)',
    args: [SANDBOX],
    run: () => import('../commands/sandbox.js').then((m) => m.stop),
  },
  {
    name: 'rm',
    description: 'remove a sandbox and everything the daemon created for it (the project folder stays)',
    args: [SANDBOX],
    run: () => import('../commands/sandbox.js').then((m) => m.rm),
  },
  {
    name: 'list',
    aliases: ['ls'],
    description: 'list sandboxes',
    options: [{ flags: '-q, --quiet', description: 'print the names only, one per line' }],
    run: () => import('../commands/list.js').then((m) => m.list),
  },
  {
    name: 'status',
    description: "show the daemon's status, or a sandbox's state and the protections in force",
    args: [['[name]', 'a sandbox; without it, the daemon', 'sandbox']],
    run: () => import('../commands/sandbox.js').then((m) => m.status),
  },
  {
    name: 'exec',
    description: "run a command in a sandbox; stdout, stderr and the command's exit code pass through",
    args: [SANDBOX, ['<cmd...>', 'command and arguments (put them after `--` when they start with "-")']],
    options: [
      { flags: '-i, --interactive', description: 'forward stdin to the command' },
      {
        flags: '-t, --tty',
        description: 'allocate a terminal (raw mode and window resizes when stdin is a terminal)',
      },
      {
        flags: '-e, --env <KEY=VALUE>',
        description: 'set an environment variable (repeatable)',
        repeatable: true,
      },
      {
        flags: '-w, --workdir <dir>',
        description: 'working directory inside the sandbox (default: /workspace)',
      },
      {
        flags: '--timeout <seconds>',
        description: "kill the command's whole process group after this many seconds (exit 137)",
      },
    ],
    run: () => import('../commands/exec.js').then((m) => m.exec),
  },
  {
    name: 'ps',
    description: "list a sandbox's processes (pid, parent, uid, state, command)",
    args: [SANDBOX],
    run: () => import('../commands/processes.js').then((m) => m.ps),
  },
  {
    name: 'kill',
    description: "send a signal to one of a sandbox's processes (not its agent, not a root process)",
    args: [SANDBOX, ['<pid>', 'process id inside the sandbox (see `aibox ps NAME`)']],
    options: [
      {
        flags: '-s, --signal <signal>',
        description: 'TERM, KILL, INT or HUP',
        default: 'TERM',
        choices: ['TERM', 'KILL', 'INT', 'HUP'],
      },
    ],
    run: () => import('../commands/processes.js').then((m) => m.kill),
  },
  {
    name: 'logs',
    description: "print a sandbox's logs",
    args: [SANDBOX],
    run: () => import('../commands/sandbox.js').then((m) => m.logs),
  },
  {
    name: 'doctor',
    description: 'check every prerequisite and layer, print the fix for each failure (exit 1 if any failed)',
    options: [
      {
        flags: '-s, --sandbox <name>',
        description: "also prove a sandbox's egress enforcement from inside it",
        complete: 'sandbox',
      },
    ],
    run: () => import('../commands/doctor.js').then((m) => m.doctor),
  },
  {
    name: 'update',
    description: 'rebuild the sandbox base image from scratch (fresh packages and security fixes)',
    run: () => import('../commands/image.js').then((m) => m.update),
  },
  {
    name: 'version',
    description: "print the CLI's version and the daemon's (exit 0 even when the daemon is not reachable)",
    run: () => import('../commands/version.js').then((m) => m.version),
  },
];
