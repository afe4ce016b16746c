import { z } from 'zod';
import { readJson, writeJsonAtomic } from './atomic-json.js';
import { KeyedMutex } from './mutex.js';

const Ports = z.record(z.string(), z.number().int().min(1).max(65535));

/**
 * The gateway port of each sandbox, persisted so a restarted daemon re-listens on the same port and the remotes
 * inside running sandboxes keep working.
 */
export class ListenerPorts {
  private readonly lock = new KeyedMutex();

  constructor(private readonly file: string) {}

  async get(sandboxId: string): Promise<number | undefined> {
    return (await readJson(this.file, Ports, {}))[sandboxId];
  }

  async set(sandboxId: string, port: number): Promise<void> {
    await this.lock.run('file', async () => {
      await writeJsonAtomic(this.file, { ...(await readJson(this.file, Ports, {})), [sandboxId]: port });
    });
  }

  async delete(sandboxId: string): Promise<void> {
    await this.lock.run('file', async () => {
      const { [sandboxId]: _gone, ...rest } = await readJson(this.file, Ports, {});
      await writeJsonAtomic(this.file, rest);
    });
  }
}
