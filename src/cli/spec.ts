import type { CliContext } from './context.js';

/**
 * What `aibox` knows of a command before running it: enough to parse its argv, print its help and complete it in a
 * shell. The code that runs it is in its own module, imported only when it runs (`run`), so a start pays only for
 * the command at hand.
 */
export interface CommandSpec {
  /** `list`, or a noun and its verb: `push approve` (the noun is a GroupSpec). */
  name: string;
  aliases?: readonly string[];
  description: string;
  /** `<name>`, `[path]`, `<cmd...>`, each with its description and what a shell completes it with. */
  args?: readonly ArgSpec[];
  options?: readonly OptionSpec[];
  /** Loads the action; it is called with the context, the positional arguments and the options, as commander gives them. */
  run: () => Promise<Action>;
}

export interface OptionSpec {
  /** Commander flags: `-s, --sandbox <name>`, `--all`, `--no-sandbox`. */
  flags: string;
  description: string;
  default?: string | boolean;
  choices?: readonly string[];
  /** The option may be given several times; the values are collected into an array. */
  repeatable?: boolean;
  required?: boolean;
  /** What a shell completes the option's value with. */
  complete?: Completion;
}

export type ArgSpec = readonly [name: string, description: string, complete?: Completion];

/** Sandbox names (from `aibox list -q`) or files. */
export type Completion = 'sandbox' | 'file';

/** A noun grouping verbs (`aibox policy eval`): its subcommands are the CommandSpecs named `noun verb`. */
export interface GroupSpec {
  name: string;
  description: string;
}

// The parameters are checked by commander against the spec, not by the compiler: each action declares its own.
export type Action = (ctx: CliContext, ...params: never[]) => Promise<void>;
