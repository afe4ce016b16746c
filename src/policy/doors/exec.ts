import { z } from 'zod';
import type { LayerVerdict, LayerView, Location } from '../types.js';
import { narrowList, verdictOf } from './common.js';
import type { Door } from './door.js';

/**
 * Commands that reach the sandbox through aiboxd: `aibox exec`, the session API and SSH sessions. Processes that
 * those commands start inside the sandbox are NOT seen here (a shell can run anything the image holds); the
 * sandbox boundary, egress and mounts contain those.
 */
export const CommandRequest = z
  .object({
    argv: z.array(z.string()).min(1),
    via: z.enum(['cli', 'api', 'ssh']).default('cli'),
    user: z.string().optional(),
    workdir: z.string().optional(),
    tty: z.boolean().default(false),
  })
  .strict();
export type CommandRequest = z.infer<typeof CommandRequest>;

const Command = z.string().min(1);

export interface EffectiveExec {
  /** Command names (argv[0] basenames) allowed; undefined: any command not denied. */
  allowCommands: string[] | undefined;
}

export function commandName(argv0: string): string {
  return argv0.split('/').pop() ?? argv0;
}

export const execDoor: Door<CommandRequest, EffectiveExec> = {
  name: 'exec',
  summary: 'commands sent through aibox exec, the session API and SSH (not processes those commands start)',
  note: 'advisory: the exec door sees only the command sent (argv[0]); a shell or any program it starts can run whatever the image holds, contained by the sandbox, egress and mounts',
  request: CommandRequest,
  effective(layers) {
    const list = narrowList(layers, 'exec', 'allow_commands', Command, (a, b) => a === '*' || a === b);
    return { value: { allowCommands: list.value }, conflicts: list.conflicts };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

function verdict(req: CommandRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const allow = layer.static('exec', 'allow_commands');
  const name = commandName(req.argv[0] ?? '');
  if (allow) {
    const list = allow.value as string[];
    if (list.includes('*') || list.includes(name)) passes.push(allow.loc);
    else failures.push({ reason: `${name} is not in ${layer.layer}'s exec.allow_commands`, loc: allow.loc });
  }
  for (const d of layer.denials('exec', req)) failures.push({ reason: d.message, loc: d.loc });
  // Commands are the user's own way into their sandbox: allowed unless a layer denies or allowlists them.
  if (failures.length === 0 && passes.length === 0 && layer.layer === 'org') {
    return { layer: layer.layer, verdict: 'allow', reason: 'no exec.deny rule matched', rules: [] };
  }
  return verdictOf(layer.layer, failures, passes);
}
