import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { companionErrors } from './errors.js';
import { SERVICES_FILE, SERVICES_MAX_BYTES } from './spec.js';

const { O_RDONLY, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/**
 * Reads the project's aibox/services.yaml (a file the agent can write) without following links: the project folder,
 * `aibox/` and the file are each opened with O_NOFOLLOW relative to their parent's descriptor; the folder and the
 * file must be owned by the project folder's owner (or root), the file a regular file of at most SERVICES_MAX_BYTES
 * (a FIFO or device is refused without blocking). Undefined when there is none.
 */
export async function readServicesFile(projectPath: string): Promise<string | undefined> {
  const handles: FileHandle[] = [];
  const openAt = async (file: string, shown: string, flags: number) => {
    try {
      const h = await open(file, flags | O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      handles.push(h);
      return h;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EMLINK')
        throw unsafe(`${shown} is a symbolic link or not what it should be`);
      throw unsafe(`cannot open ${shown}: ${code ?? 'error'}`);
    }
  };
  try {
    const project = await openAt(projectPath, projectPath, O_DIRECTORY);
    if (!project) return undefined;
    const owner = (await project.stat()).uid;
    const dir = await openAt(`/proc/self/fd/${project.fd}/aibox`, 'aibox/', O_DIRECTORY);
    if (!dir) return undefined;
    checkOwner((await dir.stat()).uid, owner, 'aibox/');
    const fh = await openAt(`/proc/self/fd/${dir.fd}/services.yaml`, SERVICES_FILE, 0);
    if (!fh) return undefined;
    const st = await fh.stat();
    if (!st.isFile()) throw unsafe(`${SERVICES_FILE} is not a regular file`);
    checkOwner(st.uid, owner, SERVICES_FILE);
    const buf = Buffer.alloc(SERVICES_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > SERVICES_MAX_BYTES)
        throw unsafe(`${SERVICES_FILE} is larger than ${SERVICES_MAX_BYTES / 1024} KiB`);
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    for (const h of handles.reverse()) await h.close().catch(() => undefined);
  }
}

function checkOwner(uid: number, owner: number, shown: string): void {
  if (uid !== owner && uid !== 0) throw unsafe(`${shown} is not owned by the project's owner`);
}

function unsafe(message: string) {
  return companionErrors.create('COMPANION_UNSAFE', message, { file: SERVICES_FILE });
}
