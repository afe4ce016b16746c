import { z } from 'zod';
import { KeyedMutex, readJsonFile, writeJsonAtomic } from '../shared/fs/index.js';

/** A listener of one sandbox: its port and the key its git sends (see GatewaySandbox.key). */
const Listener = z.object({ port: z.number().int().min(1).max(65535), key: z.string().min(32) }).strict();
export type ListenerRecord = z.infer<typeof Listener>;
// Files written before listeners had keys hold bare port numbers: such a listener has no key and is re-keyed.
const Listeners = z.record(z.string(), z.union([Listener, z.number().int()]));

/**
 * The gateway port and key of each sandbox, persisted (0600, in the daemon's state directory) so a restarted daemon
 * re-listens on the same port with the same key and the git inside running sandboxes keeps working.
 */
export class ListenerPorts {
  private readonly lock = new KeyedMutex();

  constructor(private readonly file: string) {}

  async get(sandboxId: string): Promise<ListenerRecord | undefined> {
    const v = ((await readJsonFile(this.file, Listeners)) ?? {})[sandboxId];
    return typeof v === 'object' ? v : undefined;
  }

  async set(sandboxId: string, listener: ListenerRecord): Promise<void> {
    await this.lock.run('file', async () => {
      await writeJsonAtomic(
        this.file,
        {
          ...(await readJsonFile(this.file, Listeners)),
          [sandboxId]: listener,
        },
        { mode: 0o600, mkdirMode: 0o700 },
      );
    });
  }

  async delete(sandboxId: string): Promise<void> {
    await this.lock.run('file', async () => {
      const { [sandboxId]: _gone, ...rest } = (await readJsonFile(this.file, Listeners)) ?? {};
      await writeJsonAtomic(this.file, rest, { mode: 0o600, mkdirMode: 0o700 });
    });
  }
}
