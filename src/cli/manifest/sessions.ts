import type { CommandSpec, GroupSpec } from '../spec.js';

export const SESSION_GROUPS: readonly GroupSpec[] = [
  { name: 'token', description: 'API tokens for the network listener (programs, SDKs, the dashboard)' },
  { name: 'session', description: 'sessions: sandboxes for programs, with no host folder' },
];

/** API tokens and sessions (the session API for programs). */
export const SESSION_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'token create',
    description: 'issue an API token (printed once; aiboxd keeps only its hash)',
    args: [['<name>', 'token name, e.g. ci-agent']],
    options: [
      {
        flags: '--scope <scope>',
        description: 'sessions or admin',
        default: 'sessions',
        choices: ['sessions', 'admin'],
      },
      { flags: '--team <team>', description: "the policy team whose layer applies to the token's sessions" },
      { flags: '--expires <duration>', description: 'lifetime such as 12h, 30d or 1w (default: none)' },
    ],
    run: () => import('../commands/token.js').then((m) => m.create),
  },
  {
    name: 'token list',
    aliases: ['ls'],
    description: 'list tokens (never their secrets): scope, team, state, expiry',
    run: () => import('../commands/token.js').then((m) => m.list),
  },
  {
    name: 'token revoke',
    description: 'revoke a token at once (its next request is refused with 401)',
    args: [['<name>', 'token name or id']],
    run: () => import('../commands/token.js').then((m) => m.revoke),
  },
  {
    name: 'session list',
    aliases: ['ls'],
    description: 'list sessions with their owner and deadlines',
    run: () => import('../commands/session.js').then((m) => m.list),
  },
  {
    name: 'session rm',
    description: 'remove a session and its sandbox now',
    args: [['<id>', 'session id (ses_…)']],
    run: () => import('../commands/session.js').then((m) => m.rm),
  },
];
