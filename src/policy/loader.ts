import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { LayerFiles, RepoSources } from './compile.js';
import { policyErrors } from './errors.js';
import { PROJECT_POLICY_FILE } from './project.js';
import type { PolicySource } from './store.js';

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

  async readProject(projectPath: string): Promise<{ file: string; text: string } | undefined> {
    try {
      return {
        file: PROJECT_POLICY_FILE,
        text: await readFile(join(projectPath, PROJECT_POLICY_FILE), 'utf8'),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw policyErrors.create(
        'POLICY_PROJECT_INVALID',
        `cannot read ${PROJECT_POLICY_FILE}: ${(err as Error).message}`,
      );
    }
  }

  private async readLayer(dir: string): Promise<LayerFiles> {
    const files: LayerFiles = { modules: [], data: [] };
    for (const path of (await walk(dir)).sort()) {
      const rel = relative(this.repoDir, path);
      if (path.endsWith('_test.rego')) continue;
      if (path.endsWith('.rego')) files.modules.push({ file: rel, text: await readFile(path, 'utf8') });
      else if (/(^|\/)data\.(ya?ml|json)$/.test(path))
        files.data.push({ file: rel, text: await readFile(path, 'utf8') });
    }
    return files;
  }
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
