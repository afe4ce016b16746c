import { ProjectFileRefused, readProjectFile } from '../shared/fs/project-file.js';
import { companionErrors } from './errors.js';
import { SERVICES_FILE, SERVICES_MAX_BYTES } from './spec.js';

/**
 * Reads the project's aibox/services.yaml (a file the agent can write) without following links, as every project
 * file is read (`readProjectFile`: no link anywhere on the way, folder and file of the project's owner, a regular
 * file of at most SERVICES_MAX_BYTES). Undefined when there is none.
 */
export async function readServicesFile(projectPath: string): Promise<string | undefined> {
  try {
    return (await readProjectFile(projectPath, SERVICES_FILE.split('/'), SERVICES_MAX_BYTES))?.text;
  } catch (err) {
    if (err instanceof ProjectFileRefused)
      throw companionErrors.create('COMPANION_UNSAFE', err.message, { file: SERVICES_FILE });
    throw err;
  }
}
