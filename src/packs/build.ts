import { createHash } from 'node:crypto';
import {
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  lstat,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { publishDir } from '../shared/fs/index.js';
import { packErrors } from './errors.js';
import { matchingJars, relocateJar } from './relocate.js';
import { writePackFiles } from './files.js';
import { packEnv } from './env.js';
import { PACKS_MOUNT, expand, type PackManifest, type PackVersionSpec } from './manifest.js';
import { aptRequest, aptSourcesList } from './suites.js';

export interface PackBuildProgress {
  phase: 'resolve' | 'download' | 'unpack' | 'npm' | 'finalize';
  percent: number;
  message: string;
}

export interface BuiltPack {
  name: string;
  version: string;
  /** Content address: sha256 over the resolved inputs (Debian package versions and the npm lockfile). */
  key: string;
  /** Absolute folder of the read-only artifact in the cache. */
  dir: string;
  debs: string[];
  builtAt: string;
  sizeBytes: number;
  /** sourcesKey() of the manifest version it was built from: an edited source list is not served from the cache. */
  sources?: string;
}

/** What a version's artifact depends on in its manifest: its sources (a change there needs a new build). */
export function sourcesKey(spec: PackVersionSpec): string {
  // Relocation, a CDS archive and written files change the files too; without it the key is what it always was (existing artifacts stay valid).
  const inputs =
    spec.relocate || spec.cds || spec.files.length > 0
      ? {
          sources: spec.sources,
          ...(spec.relocate ? { relocate: spec.relocate } : {}),
          ...(spec.cds ? { cds: spec.cds } : {}),
          ...(spec.files.length > 0 ? { files: spec.files } : {}),
        }
      : spec.sources;
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
}

export interface BuildOptions {
  /** The pack cache (shared by every sandbox of this host). */
  cacheDir: string;
  /** The base image's dpkg status file: the Debian closure leaves out what the image already has. */
  baseStatus: string;
  /** The unprivileged identity the fetch and unpack steps run as. */
  uid: number;
  gid: number;
  onProgress?: (p: PackBuildProgress) => void;
  signal?: AbortSignal;
  /**
   * Opens a throwaway sandbox for the Debian steps (fetch, check, unpack) whose only way out is a proxy allowed
   * just `hosts`; without it those steps run on the host as uid/gid.
   */
  openBuilder?: (
    scratch: string,
    hosts: string[],
    packsView?: string,
    opts?: { debianCache: boolean },
  ) => Promise<BuilderSandbox>;
  /**
   * Debian sources through the host's package cache (it checks InRelease against this keyring, every index and
   * .deb against the signed hashes): the builder reaches the cache instead of deb.debian.org, and apt inside checks
   * everything again against the same keyring. Only with a builder sandbox. Not an input of the artifact's key.
   */
  debianCache?: { keyring: string };
  /** The artifacts of the packs this one requires (a CDS training run needs them at their places). */
  requires?: { name: string; key: string; dir: string; spec: PackVersionSpec }[];
}

/** A builder sandbox: the scratch folder is seen inside at `inside`. */
export interface BuilderSandbox {
  inside: string;
  /** argv prefix that runs npm inside (undefined: the builder has no npm). */
  npm: string[] | undefined;
  /** The package cache's Debian archive as the builder reaches it (opened with `debianCache`). */
  debianMirror?: string;
  run(
    argv: string[],
    cwd: string,
    env?: Record<string, string>,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const NPM_REGISTRY_HOST = 'registry.npmjs.org';
const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const METADATA = '.pack.json';
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Builds one pack version into a content-addressed, read-only folder of the cache. Every fetch and unpack runs as
 * an unprivileged user in a scratch folder; only a complete build is renamed into place (a failed one leaves
 * nothing). Debian packages: the closure of the listed packages minus what the base image has (apt-get -s against
 * the image's dpkg status, private lists), downloaded and checked by apt against the signed archive, unpacked with
 * dpkg -x. npm packages: `npm install --prefix` without running install scripts.
 */
export async function buildPack(
  manifest: PackManifest,
  version: string,
  spec: PackVersionSpec,
  opts: BuildOptions,
): Promise<BuiltPack> {
  const progress = opts.onProgress ?? (() => undefined);
  await mkdir(opts.cacheDir, { recursive: true, mode: 0o755 });
  const scratch = await mkdtemp(path.join(opts.cacheDir, `.build-${manifest.name}-`));
  const prefix = `${PACKS_MOUNT}/${manifest.name}`;
  const run = (file: string, args: string[], extra: { cwd?: string; env?: Record<string, string> } = {}) =>
    execa(file, args, {
      uid: opts.uid,
      gid: opts.gid,
      cwd: extra.cwd ?? scratch,
      env: {
        ...passThrough(),
        HOME: path.join(scratch, 'home'),
        LANG: 'C.UTF-8',
        PATH: process.env['PATH'] ?? '',
        ...extra.env,
      },
      extendEnv: false,
      reject: false,
      cancelSignal: opts.signal,
    });
  const fail = (step: string, r: { stderr?: string; stdout?: string }) =>
    packErrors.create(
      'PACK_BUILD_FAILED',
      `building ${manifest.name}@${version} failed at ${step}: ${lastLines(r.stderr || r.stdout || '')}`,
      { pack: manifest.name, version, step },
    );
  let closeBuilder: (() => Promise<void>) | undefined;
  // What the builder sees at /opt/aibox/packs for a CDS training run (this pack and those it requires).
  const view = spec.cds && opts.openBuilder ? `${scratch}.view` : undefined;
  try {
    const root = path.join(scratch, 'root');
    for (const d of ['root', 'home', 'apt/lists/partial', 'apt/cache/archives/partial', 'debs']) {
      await mkdir(path.join(scratch, d), { recursive: true });
    }
    await execa('chown', ['-R', `${opts.uid}:${opts.gid}`, scratch]);
    const debs: string[] = [];
    let builder: BuilderSandbox | undefined;
    const viaCache = Boolean(spec.sources.debian && opts.debianCache && opts.openBuilder);
    if (opts.openBuilder) {
      // Allowed out: only this pack's sources (Debian's through the package cache: not through the proxy at all).
      const hosts = [
        ...(spec.sources.debian && !viaCache ? [new URL(DEBIAN_MIRROR).hostname] : []),
        ...(spec.sources.npm ? [NPM_REGISTRY_HOST] : []),
      ];
      progress({ phase: 'resolve', percent: 1, message: 'starting the builder sandbox' });
      if (view) await mkdir(view, { mode: 0o755 });
      builder = await opts.openBuilder(scratch, hosts, view, { debianCache: viaCache });
      closeBuilder = () => builder!.close();
      if (viaCache && !builder.debianMirror)
        throw fail('apt-get update', { stderr: 'the builder sandbox got no package cache endpoint' });
    }
    // The Debian steps: inside the builder when there is one (paths under scratch seen at builder.inside).
    const inScratch = (p: string) =>
      builder && p.startsWith(scratch) ? builder.inside + p.slice(scratch.length) : p;
    const runDeb = async (file: string, args: string[], extra: { cwd?: string } = {}) =>
      builder
        ? builder.run(
            [file, ...args.map((a) => a.split(scratch).join(builder.inside))],
            inScratch(extra.cwd ?? scratch),
          )
        : run(file, args, extra);
    if (spec.sources.debian) {
      const apt = path.join(scratch, 'apt');
      // Through the cache: its keyring goes into the scratch folder, where apt in the builder reads it.
      let keyring = DEBIAN_KEYRING;
      if (viaCache) {
        keyring = path.join(apt, 'keyring.gpg');
        await writeFile(keyring, await readFile(opts.debianCache!.keyring), { mode: 0o644 });
      }
      const mirror = viaCache ? builder!.debianMirror! : DEBIAN_MIRROR;
      await writeFile(
        path.join(apt, 'sources.list'),
        aptSourcesList(spec.sources.debian.suite, mirror, inScratch(keyring)),
      );
      const status = path.join(apt, 'status');
      await writeFile(status, await readFile(opts.baseStatus));
      await chown(status, opts.uid, opts.gid);
      const aptOpts = [
        `-o`,
        `Dir::Etc::SourceList=${path.join(apt, 'sources.list')}`,
        `-o`,
        `Dir::Etc::SourceParts=/dev/null`,
        `-o`,
        `Dir::Etc::Preferences=/dev/null`,
        `-o`,
        `Dir::Etc::PreferencesParts=/dev/null`,
        `-o`,
        `Dir::State::Lists=${path.join(apt, 'lists')}`,
        `-o`,
        `Dir::Cache=${path.join(apt, 'cache')}`,
        `-o`,
        `Dir::State::status=${status}`,
        `-o`,
        `Debug::NoLocking=1`,
        `-o`,
        `APT::Get::AllowUnauthenticated=false`,
        // The cache is on the host, reached directly (the builder's proxy would refuse an IP literal).
        ...(viaCache ? ['-o', `Acquire::http::Proxy::${new URL(mirror).hostname}=DIRECT`] : []),
      ];
      progress({
        phase: 'resolve',
        percent: 2,
        message: `reading ${spec.sources.debian.suite}'s package index${viaCache ? ' through the package cache' : ''}`,
      });
      const update = await runDeb('apt-get', [...aptOpts, '-q', 'update']);
      if (update.exitCode !== 0 || /^(W|E): /m.test(String(update.stderr)))
        throw fail('apt-get update', update);
      progress({ phase: 'resolve', percent: 10, message: 'computing the dependency closure' });
      const sim = await runDeb('apt-get', [
        ...aptOpts,
        '-s',
        '--no-install-recommends',
        'install',
        ...aptRequest(spec.sources.debian.suite, spec.sources.debian.packages),
      ]);
      if (sim.exitCode !== 0) throw fail('dependency resolution', sim);
      const wanted = String(sim.stdout)
        .split('\n')
        .map((l) => /^Inst (\S+) (?:\[\S+\] )?\((\S+) /.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => `${m[1]}=${m[2]}`);
      // One apt-get call fetches them all (in parallel); apt checks each file against the signed index.
      const total = wanted.length;
      const debDir = path.join(scratch, 'debs');
      const ticker = setInterval(() => {
        void readdir(debDir).then(
          (f) => {
            const n = f.filter((x) => x.endsWith('.deb')).length;
            progress({
              phase: 'download',
              percent: 10 + Math.round((50 * n) / Math.max(total, 1)),
              message: `downloaded ${n}/${total} Debian packages`,
            });
          },
          () => undefined,
        );
      }, 500);
      const dl = await runDeb('apt-get', [...aptOpts, '-q', 'download', ...wanted], { cwd: debDir }).finally(
        () => clearInterval(ticker),
      );
      if (dl.exitCode !== 0) throw fail('download', dl);
      debs.push(...wanted);
      const files = (await readdir(path.join(scratch, 'debs'))).filter((f) => f.endsWith('.deb')).sort();
      for (const [i, f] of files.entries()) {
        progress({
          phase: 'unpack',
          percent: 60 + Math.round((20 * i) / files.length),
          message: `unpacking ${f}`,
        });
        const x = await runDeb('dpkg-deb', ['-x', path.join(scratch, 'debs', f), root]);
        if (x.exitCode !== 0) throw fail(`unpacking ${f}`, x);
      }
    }
    let lock = '';
    if (spec.sources.npm) {
      progress({ phase: 'npm', percent: 80, message: `npm install ${spec.sources.npm.packages.join(' ')}` });
      const npmArgs = [
        'install',
        '--prefix',
        root,
        '--ignore-scripts',
        '--omit=dev',
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
        ...spec.sources.npm.packages,
      ];
      const npm = builder?.npm
        ? await builder.run(
            [...builder.npm, ...npmArgs.map((a) => a.split(scratch).join(builder.inside))],
            builder.inside,
            {
              HOME: `${builder.inside}/home`,
              npm_config_cache: `${builder.inside}/home/.npm`,
              npm_config_cafile: HOST_CA_BUNDLE,
            },
          )
        : await run('npm', npmArgs, { env: { npm_config_cache: path.join(scratch, 'home', '.npm') } });
      if (npm.exitCode !== 0) throw fail('npm install', npm);
      lock = await readFile(path.join(root, 'package-lock.json'), 'utf8').catch(() => '');
    }
    progress({ phase: 'finalize', percent: 90, message: 'fixing links' });
    await relinkAbsolute(root, root, prefix);
    if (spec.relocate) {
      progress({ phase: 'finalize', percent: 91, message: 'relocating hard-coded paths in Java classes' });
      await relocateJars(root, prefix, spec.relocate).catch((err: unknown) => {
        throw fail('relocate', { stderr: err instanceof Error ? err.message : String(err) });
      });
    }
    if (spec.files.length > 0) {
      progress({ phase: 'finalize', percent: 91, message: "writing the manifest's files" });
      await writePackFiles(root, prefix, spec.files).catch((err: unknown) => {
        throw fail('files', { stderr: err instanceof Error ? err.message : String(err) });
      });
    }
    if (spec.cds && builder && view) {
      progress({ phase: 'finalize', percent: 92, message: 'training the class-data sharing archive' });
      await trainCds({ manifest, spec, root, scratch, view, builder, requires: opts.requires ?? [], fail });
    } else if (spec.cds) {
      progress({
        phase: 'finalize',
        percent: 92,
        message: 'no builder sandbox: no class-data sharing archive',
      });
    }
    // The builder's work is done: nothing more goes out through it.
    await closeBuilder?.();
    closeBuilder = undefined;
    progress({ phase: 'finalize', percent: 94, message: 'sealing the artifact' });
    const key = createHash('sha256')
      .update(
        JSON.stringify({
          name: manifest.name,
          version,
          spec,
          debs,
          lock,
          // A CDS archive is only valid with the exact JDK it was made with.
          ...(spec.cds ? { cds: (opts.requires ?? []).map((r) => `${r.name}@${r.key}`) } : {}),
        }),
      )
      .digest('hex')
      .slice(0, 16);
    const sizeBytes = Number((await execa('du', ['-sb', root])).stdout.split('\t')[0]);
    const built: BuiltPack = {
      name: manifest.name,
      version,
      key,
      dir: path.join(opts.cacheDir, artifactName(manifest.name, version, key)),
      debs,
      builtAt: new Date().toISOString(),
      sizeBytes,
      sources: sourcesKey(spec),
    };
    await writeFile(path.join(root, METADATA), `${JSON.stringify(built, null, 2)}\n`);
    // Root's and read-only: neither the builder's user nor any sandbox may change it.
    await execa('chown', ['-R', '0:0', root]);
    await execa('chmod', ['-R', 'u-w,go-w,a+rX', root]);
    try {
      await publishDir(root, built.dir);
    } catch (err) {
      // The same content already in the cache (another build won the race): keep that one.
      if (
        (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' &&
        (err as NodeJS.ErrnoException).code !== 'EEXIST'
      )
        throw err;
    }
    progress({ phase: 'finalize', percent: 100, message: `built ${manifest.name}@${version} (${key})` });
    return built;
  } finally {
    await closeBuilder?.();
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    if (view) await rm(view, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * One training run in the builder sandbox writes a dynamic CDS archive (the classes a typical run loads, parsed and
 * verified once); it goes into the pack, where the pack's own options name it. The builder sees this pack and the
 * packs it requires read-only at their places under /opt/aibox/packs (an archive records the JDK and class path it
 * was made with), and writes the archive into its workspace.
 */
async function trainCds(c: {
  manifest: PackManifest;
  spec: PackVersionSpec;
  root: string;
  scratch: string;
  view: string;
  builder: BuilderSandbox;
  requires: { name: string; key: string; dir: string; spec: PackVersionSpec }[];
  fail: (step: string, r: { stderr?: string; stdout?: string }) => Error;
}): Promise<void> {
  const cds = c.spec.cds!;
  for (const r of c.requires) await execa('cp', ['-al', r.dir, path.join(c.view, r.name)]);
  await execa('cp', ['-al', c.root, path.join(c.view, c.manifest.name)]);
  const prefix = `${PACKS_MOUNT}/${c.manifest.name}`;
  const env = packEnv([
    ...c.requires.map((r) => ({ name: r.name, version: '', key: r.key, spec: r.spec })),
    { name: c.manifest.name, version: '', key: '', spec: c.spec },
  ]);
  const inside = `${c.builder.inside}/.cds.jsa`;
  const r = await c.builder.run(
    cds.train.map((a) => expand(a, prefix)),
    c.builder.inside,
    { ...env, HOME: `${c.builder.inside}/home`, AIBOX_CDS_ARCHIVE: inside },
  );
  const made = path.join(c.scratch, '.cds.jsa');
  if (r.exitCode !== 0 || !existsSync(made)) throw c.fail('cds training', r);
  await rename(made, path.join(c.root, cds.archive));
}

export function artifactName(name: string, version: string, key: string): string {
  return `${name}@${version}-${key}`;
}

/** The artifacts in the cache, newest first per pack version. */
export async function listArtifacts(cacheDir: string): Promise<BuiltPack[]> {
  const out: BuiltPack[] = [];
  for (const d of await readdir(cacheDir).catch(() => [] as string[])) {
    if (d.startsWith('.')) continue;
    const meta = await readFile(path.join(cacheDir, d, METADATA), 'utf8').catch(() => undefined);
    if (!meta) continue;
    try {
      const b = JSON.parse(meta) as BuiltPack;
      if (b.dir === path.join(cacheDir, d)) out.push(b);
    } catch {
      /* not an artifact */
    }
  }
  return out.sort((a, b) => b.builtAt.localeCompare(a.builtAt));
}

/**
 * Absolute links that point inside the unpacked tree (e.g. a JDK's lib/jvm.cfg -> /etc/java-17-openjdk/jvm.cfg)
 * are rewritten to the pack's place in the sandbox; links to the base system are left alone.
 */
async function relinkAbsolute(dir: string, root: string, prefix: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await relinkAbsolute(p, root, prefix);
    else if (e.isSymbolicLink()) {
      const target = await readlink(p);
      if (!target.startsWith('/')) continue;
      const inside = await lstat(path.join(root, target)).then(
        () => true,
        () => false,
      );
      if (!inside) continue;
      await rm(p);
      await symlink(`${prefix}${target}`, p);
    }
  }
}

/**
 * Every listed path must be in the pack, every jar pattern must match, and something must change: a manifest that
 * no longer fits its Debian packages fails the build instead of sealing a pack that cannot work.
 */
async function relocateJars(
  root: string,
  prefix: string,
  relocate: NonNullable<PackVersionSpec['relocate']>,
): Promise<void> {
  for (const p of relocate.paths) {
    const there = await lstat(path.join(root, p)).then(
      () => true,
      () => false,
    );
    if (!there) throw new Error(`${p} is not in the pack`);
  }
  const jars = await matchingJars(root, relocate.jars);
  if (jars.length === 0) throw new Error(`no jar matches ${relocate.jars.join(', ')}`);
  let changed = 0;
  for (const jar of jars) {
    try {
      changed += await relocateJar(jar, relocate.paths, prefix);
    } catch (err) {
      throw new Error(`${path.relative(root, jar)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (changed === 0) throw new Error(`no class of ${jars.length} jar(s) names ${relocate.paths.join(', ')}`);
}

/** The host's proxy and CA settings (a TLS-intercepting proxy's CA is in the host bundle). */
function passThrough(): Record<string, string> {
  const keep = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];
  keep.push('NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR');
  const env: Record<string, string> = {};
  for (const k of keep) if (process.env[k]) env[k] = process.env[k]!;
  if (existsSync(HOST_CA_BUNDLE)) env['npm_config_cafile'] = HOST_CA_BUNDLE;
  return env;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ').slice(0, 600) || 'no output';
}
