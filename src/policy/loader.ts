import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { LayerFiles, RepoSources } from './compile.js';
import { manifestRegoVersionOf } from '../rego/index.js';
import { policyErrors } from './errors.js';
import { PROJECT_POLICY_DIR, PROJECT_POLICY_FILE } from './project.js';
import type { PolicySource, ProjectSource } from './store.js';
import { ProjectFileRefused, readProjectFile } from '../shared/fs/project-file.js';

/** Largest aibox/policy.yaml read: a policy file is a few lines; anything bigger is refused, never read whole. */
export const PROJECT_POLICY_MAX_BYTES = 64 * 1024;

/**
 * The only file reading in src/policy: the policy repo (`org/`, `teams/<team>/`) and a project's
 * aibox/policy.yaml. Everything else in this module works on the strings this returns.
 *
 * Per layer directory: `*.rego` are modules (except `*_test.rego`, which `aibox policy test` runs), and
 * files named `data.yaml`, `data.yml` or `data.json` are data, at `data.org…` / `data.teams.<team>…` by folder
 * (OPA bundle layout, so `opa test` and `aibox policy test` see the same data tree).
 */
export class FilePolicySource implements PolicySource {
  constructor(private readonly repoDir: string) {}

  async readRepo(): Promise<RepoSources> {
    const orgDir = join(this.repoDir, 'org');
    if (!(await isDir(orgDir))) {
      throw policyErrors.create(
        'POLICY_REPO_MISSING',
        `the policy repo ${this.repoDir} has no org/ directory`,
        {
          repo: this.repoDir,
        },
      );
    }
    const org = await this.readLayer(orgDir);
    const teams: Record<string, LayerFiles> = {};
    const teamsDir = join(this.repoDir, 'teams');
    if (await isDir(teamsDir)) {
      for (const e of await readdir(teamsDir, { withFileTypes: true })) {
        if (e.isDirectory() && !e.name.startsWith('.'))
          teams[e.name] = await this.readLayer(join(teamsDir, e.name));
      }
    }
    return { org, teams };
  }

  /**
   * The project's aibox/policy.yaml, read as root from a folder the agent can write: no symbolic link at the
   * project folder, aibox/ or the file (O_NOFOLLOW, each opened relative to its parent's descriptor), aibox/ a
   * folder and the file a regular file, both owned by the owner of the project folder (or root), the file at most
   * PROJECT_POLICY_MAX_BYTES (a FIFO or a device is refused without blocking). Undefined when there is no aibox/;
   * `text` undefined when aibox/ holds no policy.yaml. `dirId` (device:inode of aibox/) lets the store tell a
   * folder swapped after start from the one it checked.
   */
  async readProject(projectPath: string): Promise<ProjectSource | undefined> {
    try {
      const read = await readProjectFile(
        projectPath,
        [PROJECT_POLICY_DIR, 'policy.yaml'],
        PROJECT_POLICY_MAX_BYTES,
      );
      return read && { file: PROJECT_POLICY_FILE, text: read.text, dirId: read.folderId };
    } catch (err) {
      if (err instanceof ProjectFileRefused) throw unsafe(err.message);
      throw err;
    }
  }

  private async readLayer(dir: string): Promise<LayerFiles> {
    const files: LayerFiles = { modules: [], data: [] };
    // OPA bundle `.manifest` `rego_version`: the layer's own, else the repo's (so v0 org policies load unchanged)
    const regoVersion =
      (await this.manifestRegoVersion(dir)) ?? (await this.manifestRegoVersion(this.repoDir));
    for (const path of (await walk(dir)).sort()) {
      const rel = relative(this.repoDir, path);
      if (path.endsWith('_test.rego')) continue;
      if (path.endsWith('.rego'))
        files.modules.push({
          file: rel,
          text: await readFile(path, 'utf8'),
          ...(regoVersion ? { regoVersion } : {}),
        });
      else if (/(^|\/)data\.(ya?ml|json)$/.test(path))
        files.data.push({ file: rel, text: await readFile(path, 'utf8') });
    }
    return files;
  }

  private async manifestRegoVersion(dir: string): Promise<'v0' | 'v1' | undefined> {
    const file = join(dir, '.manifest');
    const text = await readIfFile(file);
    if (text === undefined) return undefined;
    try {
      return manifestRegoVersionOf(text, relative(this.repoDir, file) || '.manifest');
    } catch (err) {
      throw policyErrors.create('POLICY_REGO_ERROR', err instanceof Error ? err.message : String(err), {
        file: relative(this.repoDir, file),
      });
    }
  }
}

async function readIfFile(path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return readFile(path, 'utf8');
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function unsafe(reason: string) {
  return policyErrors.create('POLICY_PROJECT_UNSAFE', `${reason}: the project policy was not read`, {
    file: PROJECT_POLICY_FILE,
  });
}
