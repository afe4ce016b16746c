import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../../shared/fs/atomic-write.js';

/**
 * A layer's state kept per sandbox: `<dir>/<sandboxId>/state.json` (0600, written atomically), next to whatever else
 * the layer keeps in that sandbox's folder. Ids are checked, so a folder name never comes from outside.
 */
export class SandboxRecords<T extends { sandboxId: string }> {
  constructor(private readonly dir: string) {}

  folder(sandboxId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(sandboxId)) throw new Error(`bad sandbox id ${sandboxId}`);
    return path.join(this.dir, sandboxId);
  }

  async load(sandboxId: string): Promise<T | undefined> {
    const text = await readFile(path.join(this.folder(sandboxId), 'state.json'), 'utf8').catch(
      () => undefined,
    );
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async save(record: T): Promise<void> {
    await mkdir(this.folder(record.sandboxId), { recursive: true, mode: 0o711 });
    await writeJsonAtomic(path.join(this.folder(record.sandboxId), 'state.json'), record, { mode: 0o600 });
  }

  /** Removes the sandbox's whole folder (its record and the layer's other files there). */
  async remove(sandboxId: string): Promise<void> {
    await rm(this.folder(sandboxId), { recursive: true, force: true });
  }
}
