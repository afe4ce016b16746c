import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const { O_RDONLY, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** Why a project file was not read (a link, a wrong owner, too big, …); each caller answers with its own code. */
export class ProjectFileRefused extends Error {
  constructor(
    message: string,
    /** The project-relative name the refusal is about. */
    readonly file: string,
  ) {
    super(message);
  }
}

export interface ProjectFile {
  /** Project-relative, e.g. `aibox/policy.yaml`. */
  readonly file: string;
  /** Undefined when every folder on the way exists but the file does not. */
  readonly text: string | undefined;
  /** device:inode of the file's folder (tells a folder swapped later from the one read). */
  readonly folderId: string;
}

/**
 * Reads PROJECT/<parts> as root from a folder the agent can write: the project folder, each folder on the way and
 * the file are opened with O_NOFOLLOW relative to their parent's descriptor; folders and the file must be owned by
 * the project folder's owner (or root: the agent's files land as the owner's, it can never make a root-owned one);
 * the file must be a regular file of at most maxBytes (a FIFO or device is refused without blocking, a big file is
 * never read whole). Undefined when the project folder or a folder on the way does not exist.
 */
export async function readProjectFile(
  projectPath: string,
  parts: readonly string[],
  maxBytes: number,
): Promise<ProjectFile | undefined> {
  const file = parts.join('/');
  const handles: FileHandle[] = [];
  const openAt = async (at: string, shown: string, flags: number) => {
    try {
      const h = await open(at, flags | O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      handles.push(h);
      return h;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EMLINK')
        throw new ProjectFileRefused(`${shown} is a symbolic link or not what it should be`, file);
      throw new ProjectFileRefused(`cannot open ${shown}: ${code ?? 'error'}`, file);
    }
  };
  const checkOwner = (uid: number, owner: number, shown: string) => {
    if (uid !== owner && uid !== 0)
      throw new ProjectFileRefused(
        `${shown} is owned by uid ${uid}, not by the project's owner (uid ${owner})`,
        file,
      );
  };
  try {
    let dir = await openAt(projectPath, projectPath, O_DIRECTORY);
    if (!dir) return undefined;
    const owner = (await dir.stat()).uid;
    let folderStat = await dir.stat();
    for (const [i, folder] of parts.slice(0, -1).entries()) {
      const shown = `${parts.slice(0, i + 1).join('/')}/`;
      const next = await openAt(`/proc/self/fd/${dir.fd}/${folder}`, shown, O_DIRECTORY);
      if (!next) return undefined;
      folderStat = await next.stat();
      checkOwner(folderStat.uid, owner, shown);
      dir = next;
    }
    const folderId = `${folderStat.dev}:${folderStat.ino}`;
    const fh = await openAt(`/proc/self/fd/${dir.fd}/${parts[parts.length - 1]}`, file, 0);
    if (!fh) return { file, text: undefined, folderId };
    const st = await fh.stat();
    if (!st.isFile()) throw new ProjectFileRefused(`${file} is not a regular file`, file);
    checkOwner(st.uid, owner, file);
    const tooBig = () => new ProjectFileRefused(`${file} is larger than ${maxBytes / 1024} KiB`, file);
    if (st.size > maxBytes) throw tooBig();
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > maxBytes) throw tooBig();
    }
    return { file, text: buf.subarray(0, n).toString('utf8'), folderId };
  } finally {
    for (const h of handles.reverse()) await h.close().catch(() => undefined);
  }
}
