import { ProjectFileRefused, readProjectFile } from '../shared/fs/project-file.js';
import { devcontainerErrors } from './errors.js';

/** Largest devcontainer.json read: real ones are a few KiB; anything bigger is refused, never read whole. */
export const DEVCONTAINER_MAX_BYTES = 256 * 1024;

/** Where the file is looked for, in this order (the Dev Container specification's two usual places). */
export const DEVCONTAINER_PATHS = [['.devcontainer', 'devcontainer.json'], ['.devcontainer.json']] as const;

export interface DevcontainerSource {
  /** Project-relative, e.g. `.devcontainer/devcontainer.json`. */
  readonly file: string;
  readonly text: string;
}

/**
 * Reads the project's devcontainer.json (a file the agent can write) without following links, as every project file
 * is read (`readProjectFile`: no link anywhere on the way, folders and file of the project's owner, a regular file
 * of at most DEVCONTAINER_MAX_BYTES). Undefined when there is none.
 */
export async function readDevcontainer(projectPath: string): Promise<DevcontainerSource | undefined> {
  for (const parts of DEVCONTAINER_PATHS) {
    try {
      const read = await readProjectFile(projectPath, parts, DEVCONTAINER_MAX_BYTES);
      if (read?.text !== undefined) return { file: read.file, text: read.text };
    } catch (err) {
      if (err instanceof ProjectFileRefused)
        throw devcontainerErrors.create('DEVCONTAINER_UNSAFE', err.message, { file: err.file });
      throw err;
    }
  }
  return undefined;
}
