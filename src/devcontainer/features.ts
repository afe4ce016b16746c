/**
 * Which aibox tool pack a Dev Container feature or a well-known image stands for. Pure. aibox never runs feature
 * install scripts or pulls images (the workspace chooses them: hostile input, and no registry is reachable): it
 * installs its own packs, through the packs and egress doors, on the aibox base image (Debian bookworm).
 */

export interface PackWant {
  readonly name: string;
  /** The version asked for, when the file names one ("20", "3.11"); the pack's default otherwise. */
  readonly version?: string;
  /** What asked for it, e.g. `features["ghcr.io/devcontainers/features/node:1"]`. */
  readonly from: string;
}

/** The registries whose features are the official or community ones, recognised by their last path segment. */
const FEATURE_SOURCES = [
  'ghcr.io/devcontainers/features/',
  'ghcr.io/devcontainers-contrib/features/',
  'ghcr.io/devcontainers-extra/features/',
];

/** Feature name → packs; `[]` means the base image already has it. */
const FEATURE_PACKS: Record<string, string[]> = {
  node: ['node'],
  python: ['python'],
  java: ['java'],
  go: ['go'],
  maven: ['maven'],
  gradle: ['gradle'],
  'git-lfs': ['git-tools'],
  jq: ['git-tools'],
  git: [],
  'common-utils': [],
};

/** A version option that means "whatever is current" rather than a version. */
const ANY_VERSION = new Set(['latest', 'lts', 'current', 'os-provided', '']);

export interface FeatureMapping {
  readonly packs: PackWant[];
  /** Why nothing (or not everything) was mapped. */
  readonly note?: string;
  readonly mapped: boolean;
}

export function mapFeature(id: string, options: unknown): FeatureMapping {
  const from = `features["${id}"]`;
  const source = FEATURE_SOURCES.find((s) => id.startsWith(s));
  if (!source)
    return { packs: [], mapped: false, note: 'not a known feature source: feature scripts are never run' };
  const name = id.slice(source.length).replace(/[:@].*$/, '');
  const packs = FEATURE_PACKS[name];
  if (!packs) return { packs: [], mapped: false, note: `no aibox pack provides the "${name}" feature` };
  if (packs.length === 0) return { packs: [], mapped: true, note: 'in the aibox base image already' };
  const opts = (options && typeof options === 'object' ? options : {}) as Record<string, unknown>;
  const raw = typeof options === 'string' ? options : opts.version;
  const version = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : undefined;
  if (version === 'none') return { packs: [], mapped: true, note: 'version "none": nothing to install' };
  const wants: PackWant[] = packs.map((p) => ({
    name: p,
    ...(version !== undefined && !ANY_VERSION.has(version) ? { version } : {}),
    from,
  }));
  // The java feature installs Maven and Gradle on request.
  if (name === 'java') {
    if (opts.installMaven === true || opts.installMaven === 'true') wants.push({ name: 'maven', from });
    if (opts.installGradle === true || opts.installGradle === 'true') wants.push({ name: 'gradle', from });
  }
  return { packs: wants, mapped: true };
}

/** Image repositories (last path segment) whose runtime is a pack on the base image. */
const IMAGE_PACKS: Record<string, string | null> = {
  base: null,
  debian: null,
  'buildpack-deps': null,
  node: 'node',
  'typescript-node': 'node',
  'javascript-node': 'node',
  python: 'python',
  java: 'java',
  'eclipse-temurin': 'java',
  openjdk: 'java',
  go: 'go',
  golang: 'go',
  maven: 'maven',
  gradle: 'gradle',
};

const OTHER_DISTROS = /(bullseye|buster|trixie|ubuntu|focal|jammy|noble|alpine)/;

export interface ImageMapping {
  readonly packs: PackWant[];
  readonly mapped: boolean;
  readonly note: string;
}

/** `image`: mapped when it is a known runtime image (the base image plus its pack), else unsupported. */
export function mapImage(image: string): ImageMapping {
  const at = image.lastIndexOf('/');
  const last = image.slice(at + 1);
  const colon = last.indexOf(':');
  const repo = (colon < 0 ? last : last.slice(0, colon)).replace(/@.*$/, '');
  const tag = colon < 0 ? '' : last.slice(colon + 1).replace(/@.*$/, '');
  if (!(repo in IMAGE_PACKS))
    return {
      packs: [],
      mapped: false,
      note: `unsupported: aibox runs its own base image (Debian bookworm) and cannot pull "${image}"; list the tools you need as features`,
    };
  const pack = IMAGE_PACKS[repo];
  const distro = OTHER_DISTROS.exec(tag)?.[1];
  const base = `the aibox base image (Debian bookworm)${distro ? `, not ${distro}` : ''}`;
  if (pack === null || pack === undefined) return { packs: [], mapped: true, note: `mapped to ${base}` };
  // Tags like "20", "3.11", "1-20-bookworm" (the image's own version first): the runtime version is the last number.
  const numbers = tag.split('-').filter((s) => /^[0-9]+(\.[0-9]+)*$/.test(s));
  const version = numbers.length > 0 ? numbers[numbers.length - 1] : undefined;
  return {
    packs: [{ name: pack, ...(version ? { version } : {}), from: `image "${image}"` }],
    mapped: true,
    note: `mapped to ${base} plus the ${pack} pack`,
  };
}

/** The registry's versions of a pack, when known: an asked version is matched by its leading components. */
export function pickVersion(
  asked: string | undefined,
  known: { default: string; versions: string[] } | undefined,
): { version?: string; warning?: string } {
  if (asked === undefined || !known) return asked === undefined ? {} : { version: asked };
  const hit =
    known.versions.find((v) => v === asked) ??
    known.versions.find((v) => asked.startsWith(`${v}.`) || v.startsWith(`${asked}.`));
  if (hit) return { version: hit };
  return {
    version: known.default,
    warning: `version ${asked} is not packaged; using ${known.default} (packaged: ${known.versions.join(', ')})`,
  };
}
