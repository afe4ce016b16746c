import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export interface AtomicWriteOptions {
  /** Permission bits of the file, applied with fchmod (whatever the umask) before it appears under its name. */
  mode: number;
  /** Owner of the file, applied with fchown before it appears under its name (never briefly root's). */
  owner?: { uid: number; gid: number };
  /** Creates missing parent folders with this mode; without it the parent folder must exist. */
  mkdirMode?: number;
}

/**
 * Replaces `file` with `data` so that a crash at any moment leaves either the old or the new content, complete:
 * a fresh temporary file in the same folder (O_EXCL, so concurrent writers never share one), mode and owner set,
 * fsynced, renamed over the target, then the folder fsynced so the rename itself survives a power loss.
 * A failure leaves the old content and no temporary file.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): Promise<void> {
  const dir = path.dirname(file);
  if (options.mkdirMode !== undefined) await mkdir(dir, { recursive: true, mode: options.mkdirMode });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(tmp, flags, options.mode);
  try {
    try {
      await handle.chmod(options.mode);
      if (options.owner) await handle.chown(options.owner.uid, options.owner.gid);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

/** `value` as indented JSON with a final newline, written with `writeFileAtomic`. */
export async function writeJsonAtomic(
  file: string,
  value: unknown,
  options: AtomicWriteOptions,
): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, options);
}

/**
 * Moves a file another program wrote (tar, cp) into place durably: its content is fsynced before the rename and
 * the folder after, so a crash never leaves the final name on a file with missing blocks.
 */
export async function publishFile(from: string, to: string): Promise<void> {
  const handle = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(from, to);
  await syncDir(path.dirname(to));
}

/**
 * Moves a finished folder tree (a built pack, a hard-linked copy) into place durably: the file system holding it is
 * synced first (syncfs(2) through coreutils `sync -f`: one call instead of an fsync per file), then renamed, then the
 * parent folder fsynced. Rename errors (ENOTEMPTY: the name is taken) reach the caller unchanged.
 */
export async function publishDir(from: string, to: string): Promise<void> {
  await promisify(execFile)('sync', ['--file-system', from]);
  await rename(from, to);
  await syncDir(path.dirname(to));
}

/** Makes the entries of a folder (a rename, a new or removed file) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
