import type { CommandSpec, GroupSpec, OptionSpec } from '../spec.js';

export const PACK_GROUPS: readonly GroupSpec[] = [
  { name: 'pack', description: 'tool and MCP packs: the registry and the host cache' },
  { name: 'mcp', description: 'MCP servers inside a sandbox' },
  { name: 'devcontainer', description: "the project's devcontainer.json, as aibox applies it" },
];

const SANDBOX: OptionSpec = {
  flags: '-s, --sandbox <name>',
  description: 'the sandbox (default: your only one)',
  complete: 'sandbox',
};

/** Tool and MCP packs: the host cache, and what each sandbox has installed and enabled. */
export const PACK_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'devcontainer check',
    description:
      "show what `aibox start` does with the project's devcontainer.json, key by key (honoured, mapped, ignored, unsupported)",
    args: [['[path]', 'project folder (default: the current directory)', 'file']],
    run: () => import('../commands/devcontainer.js').then((m) => m.check),
  },
  {
    name: 'pack build',
    description: 'build a pack into the shared cache (once per host)',
    args: [['<pack>', 'NAME or NAME@VERSION']],
    options: [{ flags: '--force', description: 'build again even when the cache has it' }],
    run: () => import('../commands/pack.js').then((m) => m.build),
  },
  {
    name: 'pack list',
    aliases: ['ls'],
    description: 'list the packs of the registry and what the cache holds',
    run: () => import('../commands/pack.js').then((m) => m.list),
  },
  {
    name: 'pack rm',
    description: 'remove a pack from the host cache (refused while a sandbox has it installed)',
    args: [['<pack>', 'NAME (every version) or NAME@VERSION']],
    run: () => import('../commands/pack.js').then((m) => m.rm),
  },
  {
    name: 'pack lint',
    description: "check the daemon's pack-registry manifests (file and line of each problem)",
    run: () => import('../commands/pack.js').then((m) => m.lint),
  },
  {
    name: 'install',
    description: 'install a tool pack into a running sandbox (read-only under /opt/aibox/packs, no restart)',
    args: [['<pack>', 'NAME or NAME@VERSION (`aibox pack list` shows them)']],
    options: [SANDBOX],
    run: () => import('../commands/packs.js').then((m) => m.install),
  },
  {
    name: 'uninstall',
    description: 'remove a pack from a sandbox (refused while a process there runs from it)',
    args: [['<pack>', 'NAME of an installed pack']],
    options: [SANDBOX],
    run: () => import('../commands/packs.js').then((m) => m.uninstall),
  },
  {
    name: 'packs',
    description: 'list the packs installed in a sandbox',
    options: [SANDBOX],
    run: () => import('../commands/packs.js').then((m) => m.installed),
  },
  {
    name: 'mcp enable',
    description: 'install (if needed) and enable an MCP server; agent client configs are written for it',
    args: [['<pack>', 'an MCP pack: NAME or NAME@VERSION']],
    options: [SANDBOX],
    run: () => import('../commands/mcp.js').then((m) => m.enable),
  },
  {
    name: 'mcp list',
    aliases: ['ls'],
    description: 'list the MCP servers enabled in a sandbox',
    options: [SANDBOX],
    run: () => import('../commands/mcp.js').then((m) => m.list),
  },
  {
    name: 'mcp disable',
    description: 'disable an MCP server (its pack stays installed)',
    args: [['<pack>', 'NAME of an enabled MCP server']],
    options: [SANDBOX],
    run: () => import('../commands/mcp.js').then((m) => m.disable),
  },
];
