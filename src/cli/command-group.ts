import type { Command } from 'commander';

/**
 * A noun that groups subcommands (`aibox policy eval`, `aibox policy test`, …). Files registering under the same
 * noun share one group: the first caller creates it, the others find it.
 */
export function commandGroup(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing) return existing;
  return program.command(name).description(description);
}
