import { z } from 'zod';

const Upstream = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'an http:// or https:// URL')
  .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'no credentials in the URL');

/** One registry the cache fronts: where it fetches from, and which host the egress door is asked about. */
const registryConfig = (upstream: string) =>
  z
    .object({
      enabled: z.boolean().default(true).describe('Serve this registry to sandboxes.'),
      upstream: Upstream.default(upstream).describe('Base URL of the registry the host fetches from.'),
      policyHost: z
        .string()
        .regex(/^[a-z0-9.-]+$/i)
        .optional()
        .describe(
          "The host name the egress door is asked about for this registry (default: the upstream's host and port; when set, that host on port 443), e.g. registry.npmjs.org when the upstream is a corporate mirror of it.",
        ),
    })
    .strict();

export const NpmRegistryConfig = registryConfig('https://registry.npmjs.org');

/** PyPI: the index (simple pages) and the host its files are on, each asked of the egress door. */
export const PypiRegistryConfig = registryConfig('https://pypi.org').extend({
  files: Upstream.default('https://files.pythonhosted.org').describe(
    'Base URL the files the index lists are fetched from (only files there are served).',
  ),
  filesPolicyHost: z
    .string()
    .regex(/^[a-z0-9.-]+$/i)
    .optional()
    .describe("The host name the egress door is asked about for the files (default: the files URL's host)."),
});
export type PypiRegistryConfig = z.infer<typeof PypiRegistryConfig>;

/** A Maven repository (the Maven 2 layout): artifacts verified against the repository's own .sha256/.sha1 files. */
export const MavenRegistryConfig = registryConfig('https://repo.maven.apache.org/maven2').extend({
  settings: z
    .boolean()
    .default(true)
    .describe(
      "Write Maven's user settings in each sandbox's home at start (~/.m2/settings.xml, a mirror of every repository to the cache), unless the user has one of their own.",
    ),
});
export type MavenRegistryConfig = z.infer<typeof MavenRegistryConfig>;

/** A Go module proxy (GOPROXY protocol) and the checksum database its .mod and .zip files are checked against. */
export const GoRegistryConfig = registryConfig('https://proxy.golang.org').extend({
  sumdb: Upstream.default('https://sum.golang.org').describe(
    "Base URL of the checksum database (its /lookup records are what .mod and .zip must hash to; the go command's own database requests are passed through to it).",
  ),
  sumdbName: z
    .string()
    .regex(/^[a-z0-9.-]+$/i)
    .default('sum.golang.org')
    .describe('The name the go command knows that database by (GOSUMDB).'),
  sumdbPolicyHost: z
    .string()
    .regex(/^[a-z0-9.-]+$/i)
    .optional()
    .describe(
      "The host name the egress door is asked about for the database (default: the sumdb URL's host).",
    ),
});
export type GoRegistryConfig = z.infer<typeof GoRegistryConfig>;

/** A Debian archive (apt): InRelease signature checked with gpgv, every other file against the signed hashes. */
export const DebianRegistryConfig = registryConfig('http://deb.debian.org/debian').extend({
  keyring: z
    .string()
    .startsWith('/')
    .default('/usr/share/keyrings/debian-archive-keyring.gpg')
    .describe('The keyring (gpgv --keyring) an InRelease must be signed by.'),
});
export type DebianRegistryConfig = z.infer<typeof DebianRegistryConfig>;
export type RegistryConfig = z.infer<typeof NpmRegistryConfig>;

export const PackageCacheConfig = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Give every sandbox the shared, verifying package cache (npm, PyPI, Maven, Go modules, Debian) as a gateway endpoint.',
      ),
    dir: z
      .string()
      .default('')
      .refine((d) => d === '' || d.startsWith('/'), 'an absolute path')
      .describe('Where verified packages are kept (root only); empty: <stateDir>/package-cache.'),
    maxMiB: z
      .number()
      .int()
      .positive()
      .default(4096)
      .describe('Size cap; least recently used files go first.'),
    maxFileMiB: z
      .number()
      .int()
      .positive()
      .default(512)
      .describe('Largest single file (tarball, wheel, packument).'),
    metadataTtlSeconds: z
      .number()
      .int()
      .nonnegative()
      .default(300)
      .describe('How long package metadata (packuments, simple pages) is served before it is fetched again.'),
    bindHost: z
      .string()
      .default('127.0.0.1')
      .refine((h) => h === '127.0.0.1' || h === '::1' || h === 'localhost', 'loopback only')
      .describe('Host address the per-sandbox cache listeners bind to.'),
    sandboxHost: z
      .string()
      .default('10.0.2.2')
      .describe("The host's loopback as seen from inside a rootless sandbox (slirp4netns)."),
    npm: NpmRegistryConfig.prefault({}).describe('The npm registry (packuments and tarballs).'),
    pypi: PypiRegistryConfig.prefault({}).describe(
      'The Python package index (PEP 691 simple pages and files).',
    ),
    maven: MavenRegistryConfig.prefault({}).describe(
      'A Maven repository (Maven Central by default): artifacts, checksums and maven-metadata.xml.',
    ),
    go: GoRegistryConfig.prefault({}).describe(
      'A Go module proxy (proxy.golang.org by default), checked against the checksum database.',
    ),
    debian: DebianRegistryConfig.prefault({}).describe(
      'A Debian archive (deb.debian.org by default) for apt: signed InRelease, indexes and pool files.',
    ),
  })
  .strict();
export type PackageCacheConfig = z.infer<typeof PackageCacheConfig>;
