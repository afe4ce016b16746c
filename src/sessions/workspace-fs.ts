import { constants as C, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FileEntry } from '../shared/api/sessions.js';
import { sessionErrors } from './errors.js';
import { displayPath } from './paths.js';

export interface WorkspaceFsOptions {
  /** One file's cap (uploads, tar entries). */
  maxFileBytes: number;
  /** The whole workspace's cap, checked before each upload against what is there now. */
  maxTotalBytes: number;
  /** Who files and folders made by the daemon belong to on the host (the sandbox user's host uid). */
  owner?: { uid: number; gid: number } | undefined;
  /** Entries a listing or a walk reads at most. */
  maxEntries?: number;
}

/** Bytes an upload (or a whole tar) may still add; shared by every file one request writes. */
export interface ByteBudget {
  remaining: number;
}

export interface WalkEntry {
  segments: string[];
  type: 'file' | 'dir';
  size: number;
  mode: number;
  mtime: Date;
}

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const MAX_WALK_DEPTH = 128;

/**
 * File operations of the root daemon inside a session's workspace, a folder the sandbox can write: anything in it
 * may be a link planted to point at the host, and it may be swapped while we work. So nothing is ever resolved by
 * path: each step opens one name relative to the folder opened before it (`/proc/self/fd/N/name`, the openat()
 * Node lacks) with O_NOFOLLOW, folders with O_DIRECTORY; files are replaced by renaming a new file over the name
 * (a link there is replaced, never written through); trees are deleted through folder descriptors. A link on the
 * way is refused (SESSION_PATH_ESCAPE), not followed.
 */
export class WorkspaceFs {
  private readonly maxEntries: number;

  constructor(
    readonly root: string,
    private readonly options: WorkspaceFsOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Opens the folder at `segments`, one no-follow step at a time; makes missing folders when `create`. */
  async openDir(segments: readonly string[], create = false): Promise<FileHandle> {
    let dir = await open(this.root, DIR_FLAGS);
    try {
      for (let i = 0; i < segments.length; i++) {
        const next = await this.childDir(dir, segments[i] as string, create, segments.slice(0, i + 1));
        await dir.close();
        dir = next;
      }
      return dir;
    } catch (err) {
      await dir.close().catch(() => undefined);
      throw err;
    }
  }

  /** Writes a file from bytes or a stream, capped; returns the bytes written. Missing folders are made. */
  async writeFile(
    segments: readonly string[],
    source: AsyncIterable<Buffer> | Buffer,
    options: { mode?: number | undefined; budget?: ByteBudget | undefined } = {},
  ): Promise<number> {
    const { parent, name } = splitLast(segments);
    const budget = options.budget ?? { remaining: this.options.maxTotalBytes - (await this.usage()) };
    const dir = await this.openDir(parent, true);
    const tmp = `.aibox-upload-${randomBytes(6).toString('hex')}`;
    let written = 0;
    try {
      const existing = await lstatOrUndefined(at(dir, name));
      if (existing?.isDirectory()) throw notFile(segments);
      const fh = await open(at(dir, tmp), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      try {
        const cap = Math.min(this.options.maxFileBytes, budget.remaining);
        const input = Buffer.isBuffer(source) ? [source] : source;
        for await (const chunk of input) {
          written += chunk.length;
          if (written > this.options.maxFileBytes) {
            throw sessionErrors.create(
              'SESSION_FILE_TOO_LARGE',
              tooLarge(segments, this.options.maxFileBytes),
            );
          }
          if (written > cap) {
            throw sessionErrors.create(
              'SESSION_WORKSPACE_FULL',
              `the workspace is full (${this.options.maxTotalBytes} bytes)`,
            );
          }
          await fh.write(chunk);
        }
        await fh.chmod((options.mode ?? 0o644) & 0o777);
        if (this.options.owner) await fh.chown(this.options.owner.uid, this.options.owner.gid);
      } finally {
        await fh.close();
      }
      await rename(at(dir, tmp), at(dir, name)).catch((err: unknown) => {
        throw codeOf(err) === 'EISDIR' || codeOf(err) === 'ENOTEMPTY' ? notFile(segments) : err;
      });
      budget.remaining -= written;
      return written;
    } catch (err) {
      await unlink(at(dir, tmp)).catch(() => undefined);
      throw this.mapError(err, segments);
    } finally {
      await dir.close();
    }
  }

  /** Makes a folder (and the ones above it). */
  async mkdirs(segments: readonly string[]): Promise<void> {
    await (await this.openDir(segments, true)).close();
  }

  /** A regular file's size and a stream of exactly that many bytes (what it held when opened). */
  async readFile(segments: readonly string[]): Promise<{ size: number; stream: Readable }> {
    const { parent, name } = splitLast(segments);
    const dir = await this.openDir(parent);
    let fh: FileHandle | undefined;
    try {
      // O_NONBLOCK: a FIFO planted under the name must not hang the request before fstat refuses it
      fh = await open(at(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK).catch((err: unknown) => {
        throw this.mapError(err, segments);
      });
      const st = await fh.stat();
      if (!st.isFile()) throw notFile(segments);
      const size = st.size;
      const handle = fh;
      fh = undefined;
      if (size === 0) {
        await handle.close();
        return { size, stream: Readable.from([]) };
      }
      return { size, stream: handle.createReadStream({ start: 0, end: size - 1 }) };
    } finally {
      await fh?.close();
      await dir.close();
    }
  }

  async list(segments: readonly string[]): Promise<FileEntry[]> {
    const dir = await this.openDir(segments);
    try {
      const names = (await readdir(`/proc/self/fd/${dir.fd}`)).sort().slice(0, this.maxEntries);
      const entries: FileEntry[] = [];
      for (const name of names) {
        const st = await lstatOrUndefined(at(dir, name));
        if (!st) continue; // removed meanwhile
        entries.push({
          name,
          path: displayPath([...segments, name]),
          type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
          size: st.size,
          mode: st.mode & 0o7777,
          mtime: st.mtime.toISOString(),
        });
      }
      return entries;
    } finally {
      await dir.close();
    }
  }

  /** Removes a file or link (the link itself), or a folder: empty, or with everything in it when `recursive`. */
  async remove(segments: readonly string[], recursive: boolean): Promise<void> {
    const { parent, name } = splitLast(segments);
    const dir = await this.openDir(parent);
    try {
      const st = await lstatOrUndefined(at(dir, name));
      if (!st) throw notFound(segments);
      if (!st.isDirectory()) {
        return await unlink(at(dir, name)).catch((err: unknown) => {
          throw this.mapError(err, segments);
        });
      }
      if (recursive) await this.removeTree(dir, name, segments, 0);
      else
        await rmdir(at(dir, name)).catch((err: unknown) => {
          throw codeOf(err) === 'ENOTEMPTY'
            ? sessionErrors.create('SESSION_DIR_NOT_EMPTY', `folder ${displayPath(segments)} is not empty`)
            : this.mapError(err, segments);
        });
    } finally {
      await dir.close();
    }
  }

  /** Regular files and folders below `segments` (links and special files are skipped), depth first. */
  async *walk(segments: readonly string[]): AsyncGenerator<WalkEntry> {
    const counter = { entries: 0 };
    const dir = await this.openDir(segments);
    try {
      yield* this.walkDir(dir, [...segments], 0, counter);
    } finally {
      await dir.close();
    }
  }

  /** Opens a regular file under the workspace for reading, no-follow (the tar writer reads each entry so). */
  async openFile(segments: readonly string[]): Promise<FileHandle> {
    const { parent, name } = splitLast(segments);
    const dir = await this.openDir(parent);
    try {
      const fh = await open(at(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK).catch((err: unknown) => {
        throw this.mapError(err, segments);
      });
      if (!(await fh.stat()).isFile()) {
        await fh.close();
        throw notFile(segments);
      }
      return fh;
    } finally {
      await dir.close();
    }
  }

  /**
   * Moves everything in folder `from` into folder `to` (made when missing), merging folders that exist on both
   * sides and replacing files (and links, never followed) by rename. Every conflict (a folder where a file goes,
   * a file or link where a folder goes) is found before anything moves, so a refused move changes nothing.
   */
  async moveInto(from: readonly string[], to: readonly string[]): Promise<void> {
    const src = await this.openDir(from);
    try {
      let dst = await this.openDir(to).catch((err: unknown) => {
        if (isCode(err, 'SESSION_PATH_NOT_FOUND')) return undefined;
        throw err;
      });
      try {
        if (dst) await this.pairDirs(src, dst, [...to], 0, 'check');
        dst ??= await this.openDir(to, true);
        await this.pairDirs(src, dst, [...to], 0, 'move');
      } finally {
        await dst?.close();
      }
    } finally {
      await src.close();
    }
  }

  /** Bytes of regular files in the workspace now (what the size cap is checked against). */
  async usage(): Promise<number> {
    let total = 0;
    for await (const entry of this.walk([])) if (entry.type === 'file') total += entry.size;
    return total;
  }

  private async *walkDir(
    dir: FileHandle,
    segments: string[],
    depth: number,
    counter: { entries: number },
  ): AsyncGenerator<WalkEntry> {
    if (depth > MAX_WALK_DEPTH) {
      throw sessionErrors.create('SESSION_PATH_INVALID', `more than ${MAX_WALK_DEPTH} folders deep`);
    }
    for (const name of (await readdir(`/proc/self/fd/${dir.fd}`)).sort()) {
      if (++counter.entries > 10 * this.maxEntries) {
        throw sessionErrors.create('SESSION_WORKSPACE_FULL', `more than ${10 * this.maxEntries} entries`);
      }
      const st = await lstatOrUndefined(at(dir, name));
      const here = [...segments, name];
      if (st?.isFile()) yield entryOf(here, 'file', st);
      else if (st?.isDirectory()) {
        yield entryOf(here, 'dir', st);
        let child: FileHandle;
        try {
          child = await open(at(dir, name), DIR_FLAGS);
        } catch (err) {
          if (codeOf(err) === 'ENOENT') continue; // removed meanwhile
          throw this.mapError(err, here);
        }
        try {
          yield* this.walkDir(child, here, depth + 1, counter);
        } finally {
          await child.close();
        }
      }
    }
  }

  /** One level of moveInto: `check` refuses conflicts, `move` renames (both descend into folders on both sides). */
  private async pairDirs(
    src: FileHandle,
    dst: FileHandle,
    shown: string[],
    depth: number,
    pass: 'check' | 'move',
  ): Promise<void> {
    if (depth > MAX_WALK_DEPTH) {
      throw sessionErrors.create('SESSION_PATH_INVALID', `more than ${MAX_WALK_DEPTH} folders deep`);
    }
    for (const name of (await readdir(`/proc/self/fd/${src.fd}`)).sort()) {
      const here = [...shown, name];
      const from = await lstat(at(src, name));
      const there = await lstatOrUndefined(at(dst, name));
      if (from.isDirectory() && there?.isDirectory()) {
        const [a, b] = await Promise.all([
          open(at(src, name), DIR_FLAGS),
          open(at(dst, name), DIR_FLAGS),
        ]).catch((err: unknown) => {
          throw this.mapError(err, here);
        });
        try {
          await this.pairDirs(a, b, here, depth + 1, pass);
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
        continue;
      }
      if (pass === 'check') {
        if (from.isDirectory() && there?.isSymbolicLink()) throw escape(here);
        if (from.isDirectory() && there) throw notDir(here);
        if (!from.isDirectory() && there?.isDirectory()) throw notFile(here);
        continue;
      }
      await rename(at(src, name), at(dst, name)).catch((err: unknown) => {
        throw this.mapError(err, here);
      });
    }
  }

  private async removeTree(parent: FileHandle, name: string, segments: readonly string[], depth: number) {
    if (depth > MAX_WALK_DEPTH) {
      throw sessionErrors.create('SESSION_PATH_INVALID', `more than ${MAX_WALK_DEPTH} folders deep`);
    }
    const dir = await open(at(parent, name), DIR_FLAGS).catch((err: unknown) => {
      throw this.mapError(err, segments);
    });
    try {
      for (const child of await readdir(`/proc/self/fd/${dir.fd}`)) {
        const st = await lstatOrUndefined(at(dir, child));
        if (st?.isDirectory()) await this.removeTree(dir, child, [...segments, child], depth + 1);
        else if (st) await unlink(at(dir, child)).catch(ignoreGone);
      }
    } finally {
      await dir.close();
    }
    await rmdir(at(parent, name)).catch(ignoreGone);
  }

  private async childDir(
    dir: FileHandle,
    name: string,
    create: boolean,
    shown: readonly string[],
  ): Promise<FileHandle> {
    let made = false;
    if (create) {
      try {
        await mkdir(at(dir, name), 0o755);
        made = true;
      } catch (err) {
        if (codeOf(err) !== 'EEXIST') throw this.mapError(err, shown);
      }
    }
    let child: FileHandle;
    try {
      child = await open(at(dir, name), DIR_FLAGS);
    } catch (err) {
      // O_NOFOLLOW|O_DIRECTORY on a link answers ELOOP or ENOTDIR depending on the kernel: ask what it is
      const st = await lstatOrUndefined(at(dir, name));
      throw st?.isSymbolicLink() ? escape(shown) : this.mapError(err, shown);
    }
    if (made && this.options.owner) await child.chown(this.options.owner.uid, this.options.owner.gid);
    return child;
  }

  private mapError(err: unknown, segments: readonly string[]) {
    switch (codeOf(err) ?? '') {
      case 'ELOOP':
        return escape(segments);
      case 'ENOENT':
        return notFound(segments);
      case 'ENOTDIR':
        return sessionErrors.create('SESSION_PATH_NOT_DIR', `${displayPath(segments)} is not a folder`);
      case 'ENXIO':
      case 'EISDIR':
        return notFile(segments);
      case 'ENOSPC':
      case 'EDQUOT':
        return sessionErrors.create('SESSION_WORKSPACE_FULL', 'the workspace is full');
      default:
        return err;
    }
  }
}

function at(dir: FileHandle, name: string): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

function splitLast(segments: readonly string[]): { parent: string[]; name: string } {
  if (segments.length === 0) {
    throw sessionErrors.create('SESSION_PATH_NOT_FILE', 'the workspace folder itself is not a file');
  }
  return { parent: segments.slice(0, -1), name: segments[segments.length - 1] as string };
}

function entryOf(segments: string[], type: 'file' | 'dir', st: Stats): WalkEntry {
  return { segments, type, size: type === 'file' ? st.size : 0, mode: st.mode & 0o777, mtime: st.mtime };
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function ignoreGone(err: unknown): void {
  if (codeOf(err) !== 'ENOENT') throw err;
}

function isCode(err: unknown, code: string): boolean {
  return (err as { code?: unknown } | undefined)?.code === code;
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

const escape = (segments: readonly string[]) =>
  sessionErrors.create(
    'SESSION_PATH_ESCAPE',
    `${displayPath(segments)} is or goes through a symbolic link; links are not followed`,
  );
const notFound = (segments: readonly string[]) =>
  sessionErrors.create('SESSION_PATH_NOT_FOUND', `no such file or folder: ${displayPath(segments)}`);
const notFile = (segments: readonly string[]) =>
  sessionErrors.create('SESSION_PATH_NOT_FILE', `${displayPath(segments)} is not a regular file`);
const notDir = (segments: readonly string[]) =>
  sessionErrors.create('SESSION_PATH_NOT_DIR', `${displayPath(segments)} is not a folder`);
const tooLarge = (segments: readonly string[], max: number) =>
  `${displayPath(segments)} is larger than ${max} bytes`;
