import type { CommandSpec, GroupSpec } from '../spec.js';

export const ACCESS_GROUPS: readonly GroupSpec[] = [
  {
    name: 'secret',
    description: 'manage the secrets aibox injects on the host side (LLM keys, git and mirror tokens)',
  },
  { name: 'ssh-key', description: 'public keys allowed to log in to the SSH gateway (IDE access)' },
];

/** Secrets the daemon injects, and SSH access for IDEs. */
export const ACCESS_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'secret set',
    description:
      'store a secret: pipe the value on stdin (`printf %s "$KEY" | aibox secret set NAME`) or type it at the hidden prompt',
    args: [['<name>', 'secret name, e.g. anthropic-api-key']],
    run: () => import('../commands/secret.js').then((m) => m.set),
  },
  {
    name: 'secret list',
    aliases: ['ls'],
    description: 'list secret names and when they were set (values are never shown)',
    run: () => import('../commands/secret.js').then((m) => m.list),
  },
  {
    name: 'secret rm',
    description: 'remove a secret from the embedded store',
    args: [['<name>', 'secret name']],
    run: () => import('../commands/secret.js').then((m) => m.rm),
  },
  {
    name: 'ssh-key add',
    description: 'allow a public key to log in to sandboxes over SSH',
    args: [
      [
        '[file]',
        'public key file (default: your ~/.ssh/*.pub, when there is exactly one or an id_ed25519.pub)',
        'file',
      ],
    ],
    run: () => import('../commands/ssh-key.js').then((m) => m.add),
  },
  {
    name: 'ssh-key list',
    aliases: ['ls'],
    description: 'list the registered keys',
    run: () => import('../commands/ssh-key.js').then((m) => m.list),
  },
  {
    name: 'ssh-key rm',
    aliases: ['remove'],
    description: 'stop a key from logging in (open sessions keep running until they end)',
    args: [['<key>', 'fingerprint (SHA256:…) or comment, as `aibox ssh-key list` shows']],
    run: () => import('../commands/ssh-key.js').then((m) => m.rm),
  },
  {
    name: 'ssh-config',
    description:
      'print (or --write into ~/.ssh/config) a Host entry per sandbox for VS Code Remote-SSH and JetBrains Gateway',
    options: [
      {
        flags: '--write',
        description: 'add or update the entries in ~/.ssh/config (idempotent, inside a marked block)',
      },
      {
        flags: '--identity <file>',
        description: 'private key to use (default: the ~/.ssh key whose public half is registered)',
        complete: 'file',
      },
      {
        flags: '--config <file>',
        description: 'ssh config file to write (default: ~/.ssh/config)',
        complete: 'file',
      },
    ],
    run: () => import('../commands/ssh-config.js').then((m) => m.sshConfig),
  },
];
