import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { devcontainerErrors } from './errors.js';

/** Largest devcontainer.json read: real ones are a few KiB; anything bigger is refused, never read whole. */
export const DEVCONTAINER_MAX_BYTES = 256 * 1024;

/** Where the file is looked for, in this order (the Dev Container specification's two usual places). */
export const DEVCONTAINER_PATHS = [['.devcontainer', 'devcontainer.json'], ['.devcontainer.json']] as const;

const { O_RDONLY, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

export interface DevcontainerSource {
  /** Project-relative, e.g. `.devcontainer/devcontainer.json`. */
  readonly file: string;
  readonly text: string;
}

/**
 * Reads the project's devcontainer.json (a file the agent can write) without following links: the project
 * folder, `.devcontainer/` and the file are each opened with O_NOFOLLOW relative to their parent's descriptor;
 * folders and the file must be owned by the project folder's owner (or root), the file a regular file of at most
 * DEVCONTAINER_MAX_BYTES (a FIFO or device is refused without blocking). Undefined when there is none.
 */
export async function readDevcontainer(projectPath: string): Promise<DevcontainerSource | undefined> {
  const handles: FileHandle[] = [];
  const openAt = async (path: string, shown: string, flags: number) => {
    try {
      const h = await open(path, flags | O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      handles.push(h);
      return h;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EMLINK')
        throw unsafe(`${shown} is a symbolic link or not what it should be`, shown);
      throw unsafe(`cannot open ${shown}: ${code ?? 'error'}`, shown);
    }
  };
  try {
    const project = await openAt(projectPath, projectPath, O_DIRECTORY);
    if (!project) return undefined;
    const owner = (await project.stat()).uid;
    for (const parts of DEVCONTAINER_PATHS) {
      let dir = project;
      let missing = false;
      for (const folder of parts.slice(0, -1)) {
        const next = await openAt(`/proc/self/fd/${dir.fd}/${folder}`, `${folder}/`, O_DIRECTORY);
        if (!next) {
          missing = true;
          break;
        }
        checkOwner((await next.stat()).uid, owner, `${folder}/`);
        dir = next;
      }
      if (missing) continue;
      const file = parts.join('/');
      const fh = await openAt(`/proc/self/fd/${dir.fd}/${parts[parts.length - 1]}`, file, 0);
      if (!fh) continue;
      const st = await fh.stat();
      if (!st.isFile()) throw unsafe(`${file} is not a regular file`, file);
      checkOwner(st.uid, owner, file);
      return { file, text: await readCapped(fh, file) };
    }
    return undefined;
  } finally {
    for (const h of handles.reverse()) await h.close().catch(() => undefined);
  }
}

async function readCapped(fh: FileHandle, file: string): Promise<string> {
  const buf = Buffer.alloc(DEVCONTAINER_MAX_BYTES + 1);
  let n = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
    if (bytesRead === 0) break;
    n += bytesRead;
    if (n > DEVCONTAINER_MAX_BYTES)
      throw unsafe(`${file} is larger than ${DEVCONTAINER_MAX_BYTES / 1024} KiB`, file);
  }
  return buf.subarray(0, n).toString('utf8');
}

function checkOwner(uid: number, owner: number, shown: string): void {
  if (uid !== owner && uid !== 0) throw unsafe(`${shown} is not owned by the project's owner`, shown);
}

function unsafe(message: string, file: string) {
  return devcontainerErrors.create('DEVCONTAINER_UNSAFE', message, { file });
}
