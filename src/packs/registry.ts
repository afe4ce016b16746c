import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { packErrors } from './errors.js';
import { parseManifest, type ManifestProblem, type PackManifest, type PackVersionSpec } from './manifest.js';

/** A pack version as asked for on the command line: NAME or NAME@VERSION. */
export function parseRef(ref: string): { name: string; version?: string } {
  const at = ref.indexOf('@');
  return at < 0 ? { name: ref } : { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

export interface ResolvedPack {
  manifest: PackManifest;
  version: string;
  spec: PackVersionSpec;
}

/** The manifests of `pack-registry/` (one YAML file per pack), read once and checked by name and line. */
export class PackRegistry {
  private constructor(
    readonly dir: string,
    private readonly packs: Map<string, PackManifest>,
    readonly problems: ManifestProblem[],
  ) {}

  static async load(dir: string): Promise<PackRegistry> {
    const files = (await readdir(dir).catch(() => [] as string[]))
      .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
      .sort();
    const packs = new Map<string, PackManifest>();
    const problems: ManifestProblem[] = [];
    for (const f of files) {
      const file = path.join(dir, f);
      const { manifest, problems: p } = parseManifest(file, await readFile(file, 'utf8'));
      problems.push(...p);
      if (!manifest) continue;
      if (path.basename(f).replace(/\.ya?ml$/, '') !== manifest.name) {
        problems.push({ file, line: 1, message: `the file must be named ${manifest.name}.yaml` });
      } else packs.set(manifest.name, manifest);
    }
    for (const m of packs.values()) {
      for (const r of m.requires) {
        if (!packs.has(r))
          problems.push({
            file: path.join(dir, `${m.name}.yaml`),
            line: 1,
            message: `requires unknown pack ${r}`,
          });
      }
    }
    return new PackRegistry(dir, packs, problems);
  }

  list(): PackManifest[] {
    return [...this.packs.values()];
  }

  resolve(ref: string): ResolvedPack {
    const { name, version } = parseRef(ref);
    const manifest = this.packs.get(name);
    if (!manifest) throw packErrors.create('PACK_NOT_FOUND', `no pack named "${name}"`, { name });
    const v = version ?? manifest.default;
    const spec = manifest.versions[v];
    if (!spec)
      throw packErrors.create(
        'PACK_VERSION_NOT_FOUND',
        `pack ${name} has no version ${v} (versions: ${Object.keys(manifest.versions).join(', ')})`,
        { name, version: v },
      );
    return { manifest, version: v, spec };
  }
}

export function formatProblems(problems: ManifestProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
}
