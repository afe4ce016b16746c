import { Command, Option } from 'commander';
import { DEFAULT_SOCKET_PATH } from '../client/socket.js';
import type { CliContext } from './context.js';
import { COMMANDS, GROUPS } from './manifest/index.js';
import type { CommandSpec, OptionSpec } from './spec.js';

/**
 * The `aibox` commander program, built from the manifest; errors are thrown to runCli (exitOverride), never printed
 * by commander. With `argv`, only the command it names is built (all of them when it names none: help, typos).
 */
export function buildProgram(ctx: CliContext, argv?: readonly string[]): Command {
  const program = new Command('aibox')
    .description('Drive aiboxd: gVisor sandboxes for AI coding agents, with policy at every door.')
    .option('--socket <path>', `aiboxd socket (default: $AIBOX_SOCKET, else ${DEFAULT_SOCKET_PATH})`)
    .option('--json', 'print exactly one JSON object on stdout; progress and logs go to stderr')
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      // runCli prints usage errors itself, with a hint and a code.
      outputError: () => {},
    })
    .exitOverride()
    .showSuggestionAfterError()
    .hook('preAction', (_program, action) => ctx.useGlobals(action.optsWithGlobals()));
  const named = argv === undefined ? undefined : commandWord(argv);
  const wanted = (spec: CommandSpec) => {
    const top = spec.name.split(' ')[0]!;
    return (
      named === undefined || top === named || (!spec.name.includes(' ') && spec.aliases?.includes(named))
    );
  };
  const specs = COMMANDS.filter(wanted);
  for (const spec of specs.length > 0 ? specs : COMMANDS) addCommand(program, spec, ctx);
  return program;
}

function addCommand(program: Command, spec: CommandSpec, ctx: CliContext): void {
  const [noun, verb] = spec.name.split(' ') as [string, string | undefined];
  const parent = verb === undefined ? program : group(program, noun);
  const cmd = parent.command(verb ?? noun).description(spec.description);
  if (spec.aliases) cmd.aliases([...spec.aliases]);
  for (const [name, description] of spec.args ?? []) cmd.argument(name, description);
  for (const option of spec.options ?? []) cmd.addOption(toOption(option));
  cmd.action(async (...params: unknown[]) => {
    // commander passes the arguments, the options, then the command object itself (left out).
    const action = (await spec.run()) as unknown as (ctx: CliContext, ...p: unknown[]) => Promise<void>;
    await action(ctx, ...params.slice(0, -1));
  });
}

function group(program: Command, name: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing) return existing;
  const description = GROUPS.find((g) => g.name === name)?.description ?? '';
  return program.command(name).description(description);
}

function toOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.choices) option.choices(spec.choices);
  if (spec.repeatable)
    option.argParser((value: string, previous: string[]) => [...previous, value]).default([]);
  else if (spec.default !== undefined) option.default(spec.default);
  if (spec.required) option.makeOptionMandatory();
  return option;
}

/** The first word of argv that is not a global option (or its value): the command asked for. */
function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--socket') i++;
    else if (word === '--') return undefined;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}
