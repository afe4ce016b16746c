import { z } from 'zod';
import { LineCounter, parseDocument } from 'yaml';
import { nodeAt } from '../shared/yaml-path.js';
import { BindingEnv, BindingTransport } from '../policy/doors/credentials.js';
import { BASE_SUITE, DEBIAN_SUITES } from './suites.js';

/** Where pack files are placed inside every sandbox (read-only), one folder per pack. */
export const PACKS_MOUNT = '/opt/aibox/packs';
/** The MCP servers enabled in a sandbox, for any client to discover (inside the packs mount: the root fs is read-only). */
export const MCP_INDEX_PATH = `${PACKS_MOUNT}/.aibox/mcp.json`;

export const PACK_NAME = /^[a-z0-9][a-z0-9.-]{0,62}$/;
const Version = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+~-]{0,63}$/, 'a version such as 17 or 3.11');
const DebName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'a Debian package name');
const NpmSpec = z
  .string()
  .regex(
    /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*(@[A-Za-z0-9.^~<>=*|-]+)?$/,
    'an npm package[@range]',
  );
/** A run-time egress need: a host name (no wildcard, no IP literal), optionally :PORT (443 when left out). */
const EgressNeed = z
  .string()
  .max(259)
  .regex(
    /^(?=[^:]*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:[0-9]{1,5})?$/,
    'a host name, optionally :PORT',
  )
  .refine((v) => {
    const port = v.includes(':') ? Number(v.slice(v.indexOf(':') + 1)) : 443;
    return port >= 1 && port <= 65535;
  }, 'a port from 1 to 65535');

/**
 * A credential the pack's tools may use, injected host-side: the egress proxy puts the secret's value into `header`
 * toward `host` (one of the pack's egress needs) when a request carries the placeholder the sandbox finds in `env`.
 * Given only when the credentials door allows it; the value never enters the sandbox.
 */
const PackCredential = z
  .object({
    secret: z
      .string()
      .regex(/^[A-Za-z0-9._/-]{1,128}$/, 'a secret name (letters, digits, . _ / -)')
      .describe('Name of the secret in the credentials provider (aibox secret set / Vault).'),
    host: z
      .string()
      .max(253)
      .regex(
        /^(?=[^:]*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/,
        'a host name (no wildcard, no port)',
      )
      .describe("The only host the value is sent to; must be one of the version's egress needs."),
    ...BindingTransport,
    env: BindingEnv.describe('Variable holding the placeholder in later commands (e.g. MAVEN_MIRROR_TOKEN).'),
    required: z
      .boolean()
      .default(false)
      .describe(
        'true: an install is refused when the binding cannot be given (secret missing, door denies); false: skipped with a warning',
      ),
  })
  .strict();
export type PackCredential = z.infer<typeof PackCredential>;

/** A jar of the unpacked tree, relative to its root; `*` matches within one name. */
const JarPattern = z
  .string()
  .max(256)
  .regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9._*+/-]+\.jar$/, 'a relative jar path (may use *)');
/** A system path a Debian-patched program hard-codes (e.g. /usr/share/java). */
const AbsolutePath = z
  .string()
  .max(256)
  .regex(/^(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+$/, 'an absolute path without a trailing slash');

/** A file of the pack, relative to its root: no `..`, no absolute path, no empty segment. */
const PackFilePath = z
  .string()
  .max(256)
  .regex(
    /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))(?!.*\/\/)[A-Za-z0-9._+/-]+(?<!\/)$/,
    'a relative path inside the pack',
  );

/** Values may use ${prefix}: the pack's folder inside the sandbox (/opt/aibox/packs/NAME). */
const EnvValue = z.string().max(4096);

const Sources = z
  .object({
    debian: z
      .object({
        suite: z
          .enum(DEBIAN_SUITES, {
            message: `one of ${DEBIAN_SUITES.join(', ')} (a suite built for the base image's glibc; a later release such as trixie needs a newer one)`,
          })
          .default(BASE_SUITE)
          .describe(
            "the base image's suite, or a later one built for it (bookworm-backports: the listed packages from there, their dependencies from bookworm where they satisfy)",
          ),
        packages: z.array(DebName).min(1),
      })
      .strict()
      .optional(),
    npm: z
      .object({ packages: z.array(NpmSpec).min(1) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => s.debian || s.npm, 'a pack needs at least one source (debian or npm)');

const VersionSpec = z
  .object({
    sources: Sources,
    /** Added to every later command's environment; PATH entries are prepended to the sandbox's PATH. */
    env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), EnvValue).default({}),
    path: z.array(z.string().max(512)).default([]).describe('folders prepended to PATH (may use ${prefix})'),
    libraryPath: z.array(z.string().max(512)).default([]).describe('folders for LD_LIBRARY_PATH'),
    egress: z
      .array(EgressNeed)
      .default([])
      .describe(
        'hosts (host or host:port, 443 by default) the pack needs at run time; decided by the egress door',
      ),
    credentials: z
      .array(PackCredential)
      .default([])
      .describe('credential bindings its tools may use, injected at the egress proxy (never in the sandbox)'),
    relocate: z
      .object({
        jars: z.array(JarPattern).min(1),
        paths: z.array(AbsolutePath).min(1),
      })
      .strict()
      .optional()
      .describe(
        "absolute paths hard-coded in the jars' classes, rewritten to the pack's place at build time",
      ),
    files: z
      .array(
        z
          .object({
            path: PackFilePath,
            content: z.string().min(1).max(65536).describe('the text written; ${prefix} is expanded'),
            executable: z.boolean().default(false),
          })
          .strict(),
      )
      .default([])
      .describe(
        'files written into the pack at build time, after unpacking (replacing a file there: e.g. a launcher script)',
      ),
    cds: z
      .object({
        archive: z
          .string()
          .max(256)
          .regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9._+/-]+\.jsa$/, 'a relative path ending in .jsa'),
        train: z.array(z.string().min(1)).min(1),
      })
      .strict()
      .optional()
      .describe(
        'a class-data sharing archive made at build time: `train` runs in the builder sandbox with this pack and the packs it requires at their places, and must write $AIBOX_CDS_ARCHIVE (-XX:ArchiveClassesAtExit)',
      ),
    smoke: z.array(z.string().min(1)).min(1).describe('argv of a command that proves the pack works'),
    mcp: z
      .object({
        command: z.array(z.string().min(1)).min(1).describe('argv that starts the MCP server (stdio)'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const written = new Set<string>();
    v.files.forEach((f, i) => {
      if (written.has(f.path) || f.path === v.cds?.archive || f.path === '.pack.json')
        ctx.addIssue({
          code: 'custom',
          path: ['files', i, 'path'],
          message: `${f.path} is written twice (by another file, the CDS archive or the pack's metadata)`,
        });
      written.add(f.path);
    });
    const hosts = new Set(v.egress.map((need) => parseEgressNeed(need).host));
    const seen = new Set<string>();
    v.credentials.forEach((c, i) => {
      if (!hosts.has(c.host))
        ctx.addIssue({
          code: 'custom',
          path: ['credentials', i, 'host'],
          message: `${c.host} is not one of this version's egress needs (a credential goes only where the pack reaches)`,
        });
      if (seen.has(c.env) || c.env in v.env || c.env === 'PATH' || c.env === 'LD_LIBRARY_PATH')
        ctx.addIssue({
          code: 'custom',
          path: ['credentials', i, 'env'],
          message: `${c.env} is used twice (by another credential or the pack's env)`,
        });
      seen.add(c.env);
    });
  });

export const PackManifest = z
  .object({
    name: z.string().regex(PACK_NAME, 'a pack name: lower-case letters, digits, "." and "-"'),
    description: z.string().max(300),
    kind: z.enum(['tool', 'mcp']).default('tool'),
    /** The version `aibox install NAME` picks. */
    default: Version,
    /** Other packs this one runs on (e.g. an MCP server on node); installed with it. */
    requires: z.array(z.string().regex(PACK_NAME)).default([]),
    versions: z.record(Version, VersionSpec),
  })
  .strict()
  .refine((m) => m.default in m.versions, { message: 'default must be one of versions', path: ['default'] });
export type PackManifest = z.infer<typeof PackManifest>;
export type PackVersionSpec = z.infer<typeof VersionSpec>;

export interface ManifestProblem {
  file: string;
  line: number;
  message: string;
}

/** Parses one manifest; problems name the file and the line of the offending key (1-based). */
export function parseManifest(
  file: string,
  text: string,
): { manifest?: PackManifest; problems: ManifestProblem[] } {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : counter.linePos(offset).line);
  if (doc.errors.length > 0) {
    return { problems: doc.errors.map((e) => ({ file, line: lineAt(e.pos[0]), message: e.message })) };
  }
  const parsed = PackManifest.safeParse(doc.toJS());
  if (parsed.success) return { manifest: parsed.data, problems: [] };
  return {
    problems: parsed.error.issues.map((i) => ({
      file,
      line: lineAt(nodeAt(doc.contents, i.path)?.range?.[0]),
      message: `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`,
    })),
  };
}

/** A manifest egress need as the egress door's request: host and port (443 when the need names none). */
export function parseEgressNeed(need: string): { host: string; port: number } {
  const i = need.lastIndexOf(':');
  return i < 0 ? { host: need, port: 443 } : { host: need.slice(0, i), port: Number(need.slice(i + 1)) };
}

/** Expands ${prefix} in a manifest value. */
export function expand(value: string, prefix: string): string {
  return value.replaceAll('${prefix}', prefix);
}
