import { z } from 'zod';

/** Signals a caller may send to a sandbox's process. */
export const PROCESS_SIGNALS = ['TERM', 'KILL', 'INT', 'HUP'] as const;

export const ProcessEntry = z.object({
  pid: z.number().int().describe('pid inside the sandbox'),
  ppid: z.number().int(),
  pgid: z.number().int(),
  uid: z.number().int().describe('0: a root process (a pre-started aibox-exec), which cannot be signalled'),
  state: z.string().describe('the kernel state letter (R, S, Z, …)'),
  cmd: z.string().describe('the command line, arguments separated by spaces'),
});
export type ProcessEntry = z.infer<typeof ProcessEntry>;

/** GET /v1/sandboxes/:name/processes: every process in the sandbox but its exec agent. */
export const ProcessList = z.object({ processes: z.array(ProcessEntry) });
export type ProcessList = z.infer<typeof ProcessList>;

export const ProcessParams = z.object({
  name: z.string().min(1).max(128),
  pid: z.coerce.number().int().min(1).max(0x7fffffff),
});

/** DELETE /v1/sandboxes/:name/processes/:pid?signal=TERM */
export const KillProcessQuery = z.object({ signal: z.enum(PROCESS_SIGNALS).default('TERM') }).strict();
export type KillProcessQuery = z.infer<typeof KillProcessQuery>;

export const KilledProcess = z.object({ pid: z.number().int(), signal: z.enum(PROCESS_SIGNALS) });
export type KilledProcess = z.infer<typeof KilledProcess>;
