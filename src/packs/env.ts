import { expand, PACKS_MOUNT, type PackVersionSpec } from './manifest.js';

/** The PATH every sandbox command gets when no pack adds to it (podman's default for an image without one). */
export const DEFAULT_SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface InstalledPack {
  name: string;
  version: string;
  key: string;
  spec: PackVersionSpec;
}

/** The environment later commands get from the installed packs (in install order; later packs come first on PATH). */
export function packEnv(packs: InstalledPack[]): Record<string, string> {
  if (packs.length === 0) return {};
  const env: Record<string, string> = {};
  const paths: string[] = [];
  const libs: string[] = [];
  for (const p of packs) {
    const prefix = `${PACKS_MOUNT}/${p.name}`;
    paths.unshift(...p.spec.path.map((v) => expand(v, prefix)));
    libs.unshift(...p.spec.libraryPath.map((v) => expand(v, prefix)));
    for (const [k, v] of Object.entries(p.spec.env)) env[k] = expand(v, prefix);
  }
  env['PATH'] = [...paths, DEFAULT_SANDBOX_PATH].join(':');
  if (libs.length) env['LD_LIBRARY_PATH'] = libs.join(':');
  return env;
}
