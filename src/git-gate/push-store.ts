import { z } from 'zod';
import { KeyedMutex, readJsonFile, writeJsonAtomic } from '../shared/fs/index.js';

export const PushState = z.enum(['pending', 'approved', 'rejected', 'conflict']);
export type PushState = z.infer<typeof PushState>;

export const PushEvent = z.object({
  at: z.string(),
  event: z.enum(['staged', 'restaged', 'shown', 'approved', 'approve-refused', 'conflict', 'rejected']),
  commit: z.string().optional(),
  detail: z.string().optional(),
});
export type PushEvent = z.infer<typeof PushEvent>;

/** A gated push: one target ref of one repository, pushed by one sandbox, waiting for (or past) review. */
export const PushRecord = z.object({
  id: z.string(),
  sandboxId: z.string(),
  sandbox: z.string(),
  repo: z.string(),
  ref: z.string().describe('The target ref the agent pushed to, e.g. refs/heads/main.'),
  stagingRef: z.string().describe('Where the commits wait upstream: refs/aibox/staging/<sandbox>/<id>.'),
  commit: z.string().describe('The commit the staging ref holds now.'),
  base: z.string().optional().describe('The target ref when the commit was staged (absent: new ref).'),
  decisionId: z.string(),
  rule: z.string(),
  state: PushState,
  reviewedCommit: z
    .string()
    .optional()
    .describe('The commit shown by the last `push show`; approval is bound to it.'),
  reason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  history: z.array(PushEvent),
});
export type PushRecord = z.infer<typeof PushRecord>;

const PushFile = z.object({ version: z.literal(1), pushes: z.array(PushRecord) });

/** The pushes of this daemon, persisted as one JSON document in the state directory with atomic writes. */
export class PushStore {
  private readonly lock = new KeyedMutex();

  constructor(private readonly file: string) {}

  async list(): Promise<PushRecord[]> {
    return (await readJsonFile(this.file, PushFile))?.pushes ?? [];
  }

  async get(id: string): Promise<PushRecord | undefined> {
    return (await this.list()).find((p) => p.id === id);
  }

  /** Read-modify-write under a lock: `fn` gets the current pushes and returns the new list and a result. */
  async update<T>(fn: (pushes: PushRecord[]) => { pushes: PushRecord[]; result: T }): Promise<T> {
    return this.lock.run('file', async () => {
      const { pushes, result } = fn(await this.list());
      await writeJsonAtomic(this.file, { version: 1, pushes }, { mode: 0o600, mkdirMode: 0o700 });
      return result;
    });
  }

  /** Inserts or replaces one record. */
  async put(record: PushRecord): Promise<void> {
    await this.update((pushes) => ({
      pushes: [...pushes.filter((p) => p.id !== record.id), record],
      result: undefined,
    }));
  }
}
