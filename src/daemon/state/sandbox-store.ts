import { access, chmod, mkdir, readdir, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { SANDBOX_NAME_PATTERN, SandboxState } from '../../shared/index.js';
import { KeyedMutex, readJsonFile, syncDir, writeJsonAtomic } from '../../shared/fs/index.js';
import { daemonErrors } from '../errors.js';

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
  /** No host project folder: the workspace is a tmpfs of this size, made at start and removed at stop. */
  ephemeral: z.object({ workspaceMiB: z.number().int().positive() }).optional(),
  /** The policy team layer chosen by the daemon (a session's token team), kept so a restart re-attaches the same. */
  team: z.string().optional(),
  /** Set while the sandbox waits unclaimed in the warm pool of this profile (cleared by the claim). */
  pool: z.string().optional(),
  /** Environment the claimer gave (a session's env): added to every exec, under the exec's own variables. */
  execEnv: z.record(z.string(), z.string()).optional(),
  /** Created with `devcontainer: false`: the project's devcontainer.json is left alone at every start. */
  noDevcontainer: z.boolean().optional(),
});
export type SandboxRecord = z.infer<typeof SandboxRecord>;

/** What a route names a sandbox by. */
export type SandboxRef = { name: string } | { id: string };

const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/**
 * Sandbox records, the source of truth a restarted daemon reads:
 *   <state>/sandboxes/<id>/sandbox.json   the record (0600; the folder 0711, the sandbox's own files live beside it)
 *   <state>/sandbox-names/<name> -> <id>  the name index, one symbolic link per name
 * A lookup by name is one readlink and one file read, by id one read: never a listing. The index is a hint: the
 * record read through it must carry the name, so a link left by a crash (or pointing at a removed record) reads as
 * absent and is replaced when the name is claimed again. Ordering keeps every record reachable by its name: a name
 * is linked before its record is written and unlinked after its record is removed. Writes are atomic (a crash
 * leaves the old or the new record) and serialised per sandbox and per name inside the daemon, its only writer.
 */
export class SandboxStore {
  readonly root: string;
  private readonly names: string;
  private readonly locks = new KeyedMutex();
  private indexed: Promise<void> | undefined;

  constructor(stateDir: string) {
    this.root = path.join(stateDir, 'sandboxes');
    this.names = path.join(stateDir, 'sandbox-names');
  }

  dirOf(id: string): string {
    return path.join(this.root, id);
  }

  /** The record with this id, or undefined (missing, unreadable or not a record). */
  async get(id: string): Promise<SandboxRecord | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    return readJsonFile(this.fileOf(id), SandboxRecord).catch(() => undefined);
  }

  /** The record named `name`: one readlink and one file read. */
  async findByName(name: string): Promise<SandboxRecord | undefined> {
    if (!SANDBOX_NAME_PATTERN.test(name)) return undefined;
    await this.index();
    const id = await this.linkOf(name);
    const record = id === undefined ? undefined : await this.get(id);
    return record?.name === name ? record : undefined;
  }

  /** The record a route names, by name or by id. */
  lookup(ref: SandboxRef): Promise<SandboxRecord | undefined> {
    return 'name' in ref ? this.findByName(ref.name) : this.get(ref.id);
  }

  /** The names in use (read from the index alone: for picking a free default name). */
  async takenNames(): Promise<Set<string>> {
    await this.index();
    return new Set((await readdir(this.names)).filter((n) => SANDBOX_NAME_PATTERN.test(n)));
  }

  /**
   * Stores a new sandbox under a name no other sandbox holds: the check and the claim are one step, so of two
   * creates racing for a name exactly one wins; the other gets SANDBOX_NAME_TAKEN and nothing is written.
   */
  async create(record: SandboxRecord): Promise<void> {
    await this.index();
    await this.locks.run(`id:${record.id}`, async () => {
      if (await this.get(record.id)) throw new Error(`sandbox id ${record.id} is already stored`);
      await this.claim(record.name, record.id, () => this.write(record));
    });
  }

  /** Writes a record (new or changed; a changed name moves its link). */
  async save(record: SandboxRecord): Promise<void> {
    await this.index();
    await this.locks.run(`id:${record.id}`, async () => {
      const before = await this.get(record.id);
      await this.claim(record.name, record.id, () => this.write(record));
      if (before && before.name !== record.name) await this.release(before.name, record.id);
    });
  }

  async list(): Promise<SandboxRecord[]> {
    const ids = await readdir(this.root).catch(() => [] as string[]);
    const records = (await Promise.all(ids.map((id) => this.get(id)))).filter(
      (r): r is SandboxRecord => r !== undefined,
    );
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async remove(id: string): Promise<void> {
    if (!ID_PATTERN.test(id)) return;
    await this.index();
    await this.locks.run(`id:${id}`, async () => {
      const record = await this.get(id);
      await rm(this.dirOf(id), { recursive: true, force: true });
      if (record) await this.release(record.name, id);
    });
  }

  private fileOf(id: string): string {
    return path.join(this.dirOf(id), 'sandbox.json');
  }

  private async write(record: SandboxRecord): Promise<void> {
    const dir = this.dirOf(record.id);
    // 0711: the rootless Podman user must reach home/ and seccomp.bpf inside; records stay 0600.
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await chmod(dir, 0o711);
    await chmod(this.root, 0o711);
    await writeJsonAtomic(this.fileOf(record.id), record, { mode: 0o600 });
  }

  private async linkOf(name: string): Promise<string | undefined> {
    try {
      return await readlink(path.join(this.names, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Points `name` at `id`, unless another stored sandbox holds that name, then runs `write` still holding the name:
   * a racing claim sees the record written, never a link whose record is not there yet (which reads as stale).
   */
  private async claim(name: string, id: string, write: () => Promise<void>): Promise<void> {
    if (!SANDBOX_NAME_PATTERN.test(name)) {
      throw daemonErrors.create('SANDBOX_NAME_INVALID', `invalid sandbox name "${name}"`, { name });
    }
    await this.locks.run(`name:${name}`, async () => {
      const held = await this.linkOf(name);
      if (held === id) return write();
      if (held !== undefined && (await this.get(held))?.name === name) {
        throw daemonErrors.create('SANDBOX_NAME_TAKEN', `a sandbox named "${name}" already exists`, { name });
      }
      // Absent, or left behind by a crash: (re)pointed with a rename, so readers see the old or the new link.
      const tmp = path.join(this.names, `.${name}.${randomBytes(6).toString('hex')}`);
      await symlink(id, tmp);
      await rename(tmp, path.join(this.names, name));
      await syncDir(this.names);
      await write();
    });
  }

  /** Drops the link of `name` if it still points at `id`. */
  private async release(name: string, id: string): Promise<void> {
    await this.locks.run(`name:${name}`, async () => {
      if ((await this.linkOf(name)) !== id) return;
      await unlink(path.join(this.names, name)).catch(() => undefined);
      await syncDir(this.names);
    });
  }

  /**
   * Builds the name index once when it does not exist yet (records made before it existed): from a full scan, in a
   * side folder renamed into place, so a crash half-way leaves no partial index.
   */
  private index(): Promise<void> {
    this.indexed ??= this.buildIndex().catch((err: unknown) => {
      this.indexed = undefined;
      throw err;
    });
    return this.indexed;
  }

  private async buildIndex(): Promise<void> {
    if (
      await access(this.names).then(
        () => true,
        () => false,
      )
    )
      return;
    const stateDir = path.dirname(this.names);
    await mkdir(stateDir, { recursive: true, mode: 0o711 });
    const tmp = `${this.names}.${randomBytes(6).toString('hex')}.partial`;
    await mkdir(tmp, { mode: 0o700 });
    try {
      for (const record of await this.list()) {
        await symlink(record.id, path.join(tmp, record.name)).catch((err: NodeJS.ErrnoException) => {
          // Two records with one name (never made by this store): the older keeps it.
          if (err.code !== 'EEXIST') throw err;
        });
      }
      await syncDir(tmp);
      await rename(tmp, this.names).catch((err: NodeJS.ErrnoException) => {
        // Another store of this daemon built it first.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
      await syncDir(stateDir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}
