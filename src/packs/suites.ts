/**
 * The Debian suites a pack may take packages from: the base image's, and later suites built against it, whose
 * binaries run on the base image's glibc (2.36). A later release (trixie) is not offered: its binaries need newer
 * glibc symbols (docs/packs.md, "java@21").
 */
export const BASE_SUITE = 'bookworm';
export const DEBIAN_SUITES = ['bookworm', 'bookworm-backports'] as const;
export type DebianSuite = (typeof DEBIAN_SUITES)[number];

export function isDebianSuite(name: string): name is DebianSuite {
  return (DEBIAN_SUITES as readonly string[]).includes(name);
}

/**
 * apt's sources.list for a pack's Debian source. A later suite comes with the base suite: the later suite's default
 * priority (backports: NotAutomatic, 100) keeps every dependency the base suite satisfies coming from there.
 */
export function aptSourcesList(suite: DebianSuite, mirror: string, keyring: string): string {
  const suites = suite === BASE_SUITE ? [BASE_SUITE] : [BASE_SUITE, suite];
  return suites.map((s) => `deb [signed-by=${keyring}] ${mirror} ${s} main\n`).join('');
}

/** The packages as apt is asked for them: the listed ones from their suite (pkg/suite), the rest as apt resolves. */
export function aptRequest(suite: DebianSuite, packages: readonly string[]): string[] {
  return suite === BASE_SUITE ? [...packages] : packages.map((p) => `${p}/${suite}`);
}
