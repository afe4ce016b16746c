import { chmod, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { SandboxState } from '../../shared/index.js';

export const SandboxRecord = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  /**
   * "<st_dev>:<st_ino>" of the project folder when the sandbox was created (opened without following links); every
   * start mounts only that folder (absent in records made before it was kept: recorded at their next start).
   */
  pathIdentity: z.string().optional(),
  profile: z.string(),
  state: SandboxState,
  image: z.string(),
  containerId: z.string().optional(),
  createdAt: z.string(),
  /** The uid that created the sandbox (SO_PEERCRED of the creating request); only it and root may act on it. */
  ownerUid: z.number().int().nonnegative().default(0),
  env: z.record(z.string(), z.string()).default({}),
  endpoints: z.record(z.string(), z.string()).default({}),
  network: z.boolean().default(false),
  /** RLIMIT_NPROC every command gets: the profile's value when the sandbox started (not re-read per exec). */
  maxProcesses: z.number().int().positive().optional(),
  /** Why the sandbox is not running when it did not stop on request (an OOM kill, an exit code, a failed start). */
  error: z.string().optional(),
});
export type SandboxRecord = z.infer<typeof SandboxRecord>;

/**
 * Sandboxes as JSON files under <state>/sandboxes/<id>/sandbox.json, written atomically (temp file + rename) so a
 * crash never leaves a half-written record. The files are the source of truth a restarted daemon reads.
 */
export class SandboxStore {
  readonly root: string;
  /** name -> id, a hint only (the record file read through it must still carry the name): finds read one file. */
  private readonly ids = new Map<string, string>();

  constructor(stateDir: string) {
    this.root = path.join(stateDir, 'sandboxes');
  }

  dirOf(id: string): string {
    return path.join(this.root, id);
  }

  async save(record: SandboxRecord): Promise<void> {
    const dir = this.dirOf(record.id);
    // 0711: the rootless Podman user must reach home/ and seccomp.bpf inside; records stay 0600.
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await chmod(dir, 0o711);
    await chmod(this.root, 0o711);
    const file = path.join(dir, 'sandbox.json');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, file);
    this.ids.set(record.name, record.id);
  }

  /** The record with this id, or undefined (missing or unreadable). */
  async get(id: string): Promise<SandboxRecord | undefined> {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
    const text = await readFile(path.join(this.dirOf(id), 'sandbox.json'), 'utf8').catch(() => undefined);
    if (!text) return undefined;
    try {
      const parsed = SandboxRecord.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** The record named `name`: one file read through the index, the full scan only when the index misses. */
  async findByName(name: string): Promise<SandboxRecord | undefined> {
    const id = this.ids.get(name);
    if (id) {
      const record = await this.get(id);
      if (record?.name === name) return record;
    }
    return (await this.list()).find((r) => r.name === name);
  }

  async list(): Promise<SandboxRecord[]> {
    const ids = await readdir(this.root).catch(() => [] as string[]);
    const records = (await Promise.all(ids.map((id) => this.get(id)))).filter(
      (r): r is SandboxRecord => r !== undefined,
    );
    this.ids.clear();
    for (const r of records) this.ids.set(r.name, r.id);
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async remove(id: string): Promise<void> {
    await rm(this.dirOf(id), { recursive: true, force: true });
    for (const [name, known] of this.ids) if (known === id) this.ids.delete(name);
  }
}
