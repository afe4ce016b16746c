import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { AuditLog } from '../../audit/index.js';
import type { DaemonConfig } from '../../config/index.js';
import {
  PACKS_MOUNT,
  PackRegistry,
  buildPack,
  expand,
  formatProblems,
  listArtifacts,
  packEnv,
  packErrors,
  parseEgressNeed,
  sourcesKey,
  type BuilderSandbox,
  type BuiltPack,
  type InstalledPack,
  type PackBuildProgress,
  type PackVersionSpec,
  type ResolvedPack,
} from '../../packs/index.js';
import { policyErrors } from '../../policy/index.js';
import { EgressConfig } from '../../egress/index.js';
import {
  McpGateway,
  newGatewayKey,
  refusingLauncher,
  relayLauncher,
  type ServerProcess,
} from '../../mcp-gateway/index.js';
import { PackageCacheConfig, type EgressDoor, type PackageCache } from '../../package-cache/index.js';
import { readJsonFile } from '../../shared/fs/index.js';
import { z } from 'zod';
import { writeFileAtomic, writeJsonAtomic } from '../../shared/fs/index.js';
import { AiboxError, type Logger } from '../../shared/index.js';
import type { PolicyService } from './policy.js';
import type { EgressService } from './egress.js';
import type { BindingOutcome, PackBinding } from './credential-bindings.js';
import { openBuilderSandbox } from './pack-builder.js';
import { SandboxStore } from '../state/sandbox-store.js';
import type { SandboxContribution, SandboxHook, SandboxHookContext } from './hooks.js';
import type { RuntimePort } from './runtime-port.js';

const REGISTRY_DIR = fileURLToPath(new URL('../../../pack-registry', import.meta.url));
/** The unprivileged identity pack builds fetch and unpack as. */
const BUILDER_ID = 65534;
const SYSTEM_ID_LOOKUP = /^nobody:[^:]*:(\d+):(\d+):/m;

export interface PacksDeps {
  config: DaemonConfig;
  logger: Logger;
  runtime: RuntimePort;
  policy: PolicyService;
  audit: AuditLog;
  daemonId: string;
  /** With the egress layer, Debian sources are fetched in a throwaway builder sandbox behind its own proxy. */
  egress?: EgressService;
  /** Overrides for tests. */
  registryDir?: string;
}

/** A sandbox as the packs layer needs it: who it is, and a way to run a command in it as its user. */
export interface PackTarget {
  id: string;
  name: string;
  exec(cmd: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

/** Starts a command in a running sandbox as its user, stdio piped (the sandbox service's exec, bound at compose). */
export type SandboxStreamExec = (
  name: string,
  opts: { cmd: string[]; stdin: boolean },
) => Promise<ServerProcess>;

/** The MCP gateway listener of each sandbox, persisted so a restarted daemon re-listens on the same port and key. */
const GatewayRecords = z.record(
  z.string(),
  z.object({ port: z.number().int().min(1).max(65535), key: z.string().min(32) }).strict(),
);
type GatewayRecord = { port: number; key: string };

/** A run-time egress need of a pack the egress door allowed for the sandbox, with the decision that allowed it. */
export interface EgressGrant {
  host: string;
  port: number;
  decision: string;
}

interface InstalledRecord {
  name: string;
  version: string;
  key: string;
  installedAt: string;
  /** The pack's egress needs as decided at install (absent in records written before needs were decided). */
  egress?: EgressGrant[];
  /** `project`: installed at start because the project's aibox/policy.yaml lists it. */
  via?: 'api' | 'project';
}
interface SandboxPacks {
  packs: InstalledRecord[];
  mcp: string[];
}

export interface PackReport {
  name: string;
  version: string;
  key: string;
  kind: 'tool' | 'mcp';
  installedAt: string;
  mcpEnabled: boolean;
  path: string;
  egress: EgressGrant[];
  via: 'api' | 'project';
}

/**
 * Tool and MCP packs: the registry (`pack-registry/`), the host's shared pack cache (read-only artifacts built
 * once), and per sandbox a daemon-owned folder mounted read-only at /opt/aibox/packs into which installed packs are
 * hard-linked while the sandbox runs (no restart). What is installed is kept in the daemon's state and linked again
 * at every start; the environment of later commands comes from `execEnv`.
 */
export class PacksService implements SandboxHook {
  readonly layer = 'packs';
  private readonly building = new Map<string, Promise<BuiltPack>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly gateways = new Map<string, GatewayRecord>();
  private sandboxExec: SandboxStreamExec | undefined;
  /** The host's package cache (built after this layer): Debian sources of builds are fetched through it. */
  private packageCache: PackageCache | undefined;
  /** Tool calls of enabled MCP servers pass it; only with the egress layer (it opens the listener's port). */
  private readonly gateway: McpGateway | undefined;
  /** The host as sandboxes reach it (10.0.2.2 under slirp4netns). */
  private readonly gatewayHost: string;

  private constructor(
    private readonly deps: PacksDeps,
    readonly registry: PackRegistry,
    readonly cacheDir: string,
    private readonly stateDir: string,
  ) {
    this.gatewayHost = EgressConfig.parse(
      (deps.config as { egress?: unknown }).egress ?? {},
    ).sandboxHostAddress;
    this.gateway = deps.egress?.enforcing
      ? new McpGateway({
          bindHost: '127.0.0.1',
          logger: deps.logger.child({ svc: 'mcp-gateway' }),
          serverArgv: (id, server) => this.serverArgv(id, server),
          spawn: (sandbox, argv) => {
            if (!this.sandboxExec) throw new Error('the sandbox service is not bound yet');
            return this.sandboxExec(sandbox, { cmd: argv, stdin: true });
          },
          decide: async (sandbox, server, tool) => {
            const d = await this.deps.policy.decide('packs', { name: server, kind: 'mcp', tool }, sandbox);
            return { allowed: d.outcome === 'allow', id: d.id, reason: d.reason };
          },
          audit: async (e) => {
            await this.deps.audit.append({ kind: 'pack.mcp.call', ...e });
          },
        })
      : undefined;
  }

  /** The package cache, when it is on and serves Debian: pack builds fetch their .debs through it. */
  usePackageCache(cache: PackageCache | undefined): void {
    const config = PackageCacheConfig.parse(
      (this.deps.config as { packageCache?: unknown }).packageCache ?? {},
    );
    this.packageCache = cache && config.enabled && config.debian.enabled ? cache : undefined;
  }

  /** The sandbox service's exec, which starts MCP servers for the gateway (built after the hooks). */
  bindSandboxExec(exec: SandboxStreamExec): void {
    this.sandboxExec = exec;
  }

  static async create(deps: PacksDeps): Promise<PacksService> {
    const configured = (deps.config as { packs?: { registryDir?: string } }).packs?.registryDir;
    const registry = await PackRegistry.load(deps.registryDir ?? (configured || REGISTRY_DIR));
    if (registry.problems.length > 0) {
      // Reported by file and line; the broken manifests are left out, the others still serve.
      deps.logger.error({ problems: formatProblems(registry.problems) }, 'broken pack manifests');
    }
    const stateDir = path.join(deps.config.stateDir, 'packs');
    await mkdir(path.join(stateDir, 'sandboxes'), { recursive: true, mode: 0o711 });
    await chmod(stateDir, 0o711);
    const service = new PacksService(
      deps,
      registry,
      path.join(deps.config.runtime.image.cacheDir, 'packs'),
      stateDir,
    );
    await service.sweep();
    // The egress layer asks which credential bindings the packs installed in a sandbox declare.
    deps.egress?.setPackBindings((id) => service.packBindings(id));
    // No build runs yet: a builder folder left here is from a daemon that died mid-build.
    await rm(path.join(stateDir, 'builders'), { recursive: true, force: true });
    return service;
  }

  /** Forgets the packs of sandboxes that no longer exist (their records and folders), at start and each prepare. */
  private async sweep(): Promise<void> {
    const known = new Set((await new SandboxStore(this.deps.config.stateDir).list()).map((r) => r.id));
    await this.serial(async () => {
      const state = await this.load();
      let changed = false;
      for (const id of Object.keys(state)) {
        if (!known.has(id)) {
          delete state[id];
          changed = true;
        }
      }
      if (changed) await this.save(state);
      for (const id of await readdir(path.join(this.stateDir, 'sandboxes')).catch(() => [] as string[])) {
        if (!known.has(id))
          await rm(path.join(this.stateDir, 'sandboxes', id), { recursive: true, force: true });
      }
    });
  }

  // ---- lifecycle ----

  /** Waits for the state writes in flight; builds still running are abandoned (their folders swept at start). */
  async close(): Promise<void> {
    await this.gateway?.close();
    await this.queue.catch(() => undefined);
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    await this.sweep();
    // A fresh container gets a fresh gateway port and key; only adopt() keeps the old ones.
    const endpoint = await this.openGateway(ctx.id, ctx.name);
    let folder: string;
    try {
      folder = await this.folderOf(ctx.id);
      // The state file is shared by every sandbox: read-modify-write in the same queue as installs.
      await this.serial(async () => {
        const state = await this.load();
        const mine = state[ctx.id];
        if (!mine) return;
        const artifacts = await listArtifacts(this.cacheDir);
        for (const p of [...mine.packs]) {
          const dest = path.join(folder, p.name);
          if (existsSync(dest)) continue;
          const a = artifacts.find((b) => b.name === p.name && b.version === p.version && b.key === p.key);
          if (a) await linkTree(a.dir, dest);
          else {
            ctx.logger.warn({ pack: p.name, key: p.key }, 'installed pack no longer in the cache: dropped');
            mine.packs = mine.packs.filter((q) => q !== p);
          }
        }
        await this.save(state);
        await this.writeIndex(ctx.id, mine);
      });
      await this.installListed(ctx);
      await this.checkRequired(ctx);
    } catch (err) {
      // A start that fails here never reaches stop(): the listener must not outlive it.
      await this.stop(ctx).catch(() => undefined);
      // A sandbox that got no pack (a first start refused) leaves no record or folder here either.
      await this.forgetIfEmpty(ctx.id).catch(() => undefined);
      throw err;
    }
    return {
      mounts: [{ source: folder, target: PACKS_MOUNT, readOnly: true, daemonOwned: true }],
      // The egress layer opens this port to this sandbox alone.
      ...(endpoint ? { endpoints: { 'mcp-gateway': endpoint } } : {}),
    };
  }

  async adopt(sandbox: { id: string; name: string }): Promise<void> {
    // A required binding that became unavailable while the daemon was away: the egress layer (adopted before this
    // one) withholds it; the running sandbox is not stopped for it (as when the org withdraws it live), it is said.
    for (const m of this.requiredMissing(sandbox.id, await this.load())) {
      this.deps.logger.warn(
        { sandbox: sandbox.name, pack: m.pack, secret: m.secret, host: m.host, reason: m.reason },
        'required pack credential not given after re-adoption; the next start refuses or drops the pack',
      );
      await this.deps.audit.append({
        kind: 'pack.credential',
        sandbox: sandbox.name,
        sandboxId: sandbox.id,
        data: { ...m, given: false, required: true, at: 'adopt' },
      });
    }
    if (!this.gateway) return;
    const stored = (await this.gatewayRecords())[sandbox.id];
    if (!stored) {
      // Started by a daemon without the gateway: its launchers refuse until the sandbox restarts (fail closed).
      this.deps.logger.warn(
        { sandbox: sandbox.name },
        'MCP gateway record missing; restart the sandbox to use MCP',
      );
      return;
    }
    await this.gateway.openFor({ sandboxId: sandbox.id, sandbox: sandbox.name, ...stored });
    this.gateways.set(sandbox.id, stored);
  }

  async stop(ctx: { id: string }): Promise<void> {
    if (!this.gateway) return;
    await this.gateway.closeFor(ctx.id);
    this.gateways.delete(ctx.id);
    await this.serial(async () => {
      const { [ctx.id]: _gone, ...rest } = await this.gatewayRecords();
      await writeJsonAtomic(path.join(this.stateDir, 'gateways.json'), rest, { mode: 0o600 });
    });
  }

  /** Opens the sandbox's MCP gateway listener (new port and key); its endpoint as the egress layer reads it. */
  private async openGateway(sandboxId: string, sandbox: string): Promise<string | undefined> {
    if (!this.gateway) return undefined;
    const key = newGatewayKey();
    const port = await this.gateway.openFor({ sandboxId, sandbox, key });
    this.gateways.set(sandboxId, { port, key });
    await this.serial(async () => {
      const all = await this.gatewayRecords();
      all[sandboxId] = { port, key };
      await writeJsonAtomic(path.join(this.stateDir, 'gateways.json'), all, { mode: 0o600 });
    });
    return `tcp://${this.gatewayHost}:${port}`;
  }

  private async gatewayRecords(): Promise<Record<string, GatewayRecord>> {
    return (await readJsonFile(path.join(this.stateDir, 'gateways.json'), GatewayRecords)) ?? {};
  }

  /** The argv of an MCP server enabled in the sandbox (from its manifest, never from the caller). */
  private async serverArgv(sandboxId: string, server: string): Promise<string[] | undefined> {
    const mine = (await this.load())[sandboxId];
    if (!mine?.mcp.includes(server)) return undefined;
    const spec = this.installedSpecs(mine).find((p) => p.name === server)?.spec;
    return spec?.mcp?.command.map((a) => expand(a, `${PACKS_MOUNT}/${server}`));
  }

  /**
   * The packs the project's aibox/policy.yaml lists under `packs:` (exact names; a `prefix*` entry only allows),
   * installed before the container exists: built if the cache lacks them, decided by the packs and egress doors
   * like any install. Any failure fails the start (fail closed), naming the pack and the file and line listing it.
   */
  private async installListed(ctx: SandboxHookContext): Promise<void> {
    const { names, where } = this.listedPacks(ctx.name);
    for (const n of names) {
      const have = (await this.load())[ctx.id]?.packs.some((p) => p.name === n) ?? false;
      if (have) continue;
      try {
        const r = await this.serial(() => this.installLocked(ctx, n, 'project'));
        ctx.logger.info({ pack: n, installed: r.installed.map((p) => p.name) }, 'project pack installed');
      } catch (err) {
        if (err instanceof AiboxError)
          throw new AiboxError(
            err.code,
            `pack ${n}, listed in ${where} (packs:), could not be installed, so the sandbox does not start: ${err.message}`,
            { status: err.status, hint: err.hint },
            { ...err.details, pack: n, listedAt: where },
            { cause: err },
          );
        throw err;
      }
    }
  }

  /**
   * Every required credential binding of the packs installed in the sandbox must be given (the egress layer,
   * prepared before this one, decided them for this start). One that is not: a pack the project's
   * aibox/policy.yaml lists fails the start (PACK_CREDENTIAL_UNAVAILABLE naming the pack, the secret and the
   * decision); a pack installed through the API is dropped from the sandbox (audited), as an install would refuse it
   * now — the sandbox never runs a pack without the credential its manifest requires, and is never stuck stopped
   * (an uninstall needs it running).
   */
  private async checkRequired(ctx: SandboxHookContext): Promise<void> {
    const listed = this.listedPacks(ctx.name);
    // (`binding`, not `secret`: the audit masks values under such keys, and this is only the secret's name.)
    const dropped: { pack: string; binding: string; reason: string }[] = [];
    await this.serial(async () => {
      const state = await this.load();
      const mine = state[ctx.id];
      if (!mine) return;
      const missing = this.requiredMissing(ctx.id, state);
      const refused = missing.find((m) => listed.names.includes(m.pack));
      if (refused)
        throw packErrors.create(
          'PACK_CREDENTIAL_UNAVAILABLE',
          `pack ${refused.pack}, listed in ${listed.where} (packs:), requires the credential ${refused.secret} for ${refused.host}, which sandbox "${ctx.name}" cannot be given: ${refused.reason}; the sandbox does not start`,
          {
            pack: refused.pack,
            secret: refused.secret,
            host: refused.host,
            decisions: refused.decisions,
            listedAt: listed.where,
          },
        );
      const gone = new Set(missing.map((m) => m.pack));
      if (gone.size === 0) return;
      // Packs that require a dropped one go too (their files would run against a pack that is not there).
      for (let grew = true; grew;) {
        grew = false;
        for (const p of mine.packs) {
          const requires = this.registry.list().find((m) => m.name === p.name)?.requires ?? [];
          if (!gone.has(p.name) && requires.some((r) => gone.has(r))) {
            if (listed.names.includes(p.name))
              throw packErrors.create(
                'PACK_CREDENTIAL_UNAVAILABLE',
                `pack ${p.name}, listed in ${listed.where} (packs:), requires ${[...gone].join(', ')}, whose required credential sandbox "${ctx.name}" cannot be given; the sandbox does not start`,
                { pack: p.name, listedAt: listed.where },
              );
            gone.add(p.name);
            grew = true;
          }
        }
      }
      const folder = await this.folderOf(ctx.id);
      mine.packs = mine.packs.filter((p) => !gone.has(p.name));
      mine.mcp = mine.mcp.filter((n) => !gone.has(n));
      await this.save(state);
      for (const n of gone) await rm(path.join(folder, n), { recursive: true, force: true });
      await this.writeIndex(ctx.id, mine);
      for (const n of gone) {
        const m = missing.find((x) => x.pack === n);
        dropped.push({
          pack: n,
          binding: m ? `${m.secret} → ${m.host} (${m.env})` : '',
          reason: m ? m.reason : 'it requires a pack that was dropped',
        });
      }
    });
    if (dropped.length === 0) return;
    // Their bindings go with them, before the container exists.
    await this.deps.egress?.refreshBindings(ctx);
    for (const d of dropped) {
      ctx.logger.warn(d, 'pack dropped at start: a credential its manifest requires cannot be given');
      await this.deps.audit.append({ kind: 'pack.drop', sandbox: ctx.name, sandboxId: ctx.id, data: d });
    }
  }

  /** The required bindings of the sandbox's installed packs that the egress layer did not give (or could not). */
  private requiredMissing(
    sandboxId: string,
    state: Record<string, SandboxPacks>,
  ): { pack: string; secret: string; host: string; env: string; reason: string; decisions: string[] }[] {
    const outcomes = this.deps.egress?.enforcing ? this.deps.egress.bindingOutcomes(sandboxId) : [];
    const out: ReturnType<PacksService['requiredMissing']> = [];
    for (const p of this.installedSpecs(state[sandboxId] ?? { packs: [], mcp: [] })) {
      for (const c of p.spec.credentials.filter((k) => k.required)) {
        const o = outcomes.find((b) => b.pack === p.name && b.env === c.env && b.secret === c.secret);
        if (o?.given) continue;
        out.push({
          pack: p.name,
          secret: c.secret,
          host: c.host,
          env: c.env,
          decisions: o?.decisions ?? [],
          reason: !this.deps.egress?.enforcing
            ? 'this daemon runs sandboxes without the egress layer, which injects credentials'
            : (o?.reason ?? 'the egress layer did not decide it'),
        });
      }
    }
    return out;
  }

  /** The exact pack names the project's aibox/policy.yaml lists under `packs:`, and where. */
  private listedPacks(sandbox: string): { names: string[]; where: string } {
    const listed = this.deps.policy.store
      .policySet(sandbox)
      .layers.find((l) => l.layer === 'project')
      ?.static('packs', 'allowed');
    if (!listed || !Array.isArray(listed.value)) return { names: [], where: 'aibox/policy.yaml' };
    return {
      names: (listed.value as unknown[]).filter(
        (n): n is string => typeof n === 'string' && !n.endsWith('*'),
      ),
      where: listed.loc.at ?? 'aibox/policy.yaml',
    };
  }

  /** Drops the record and folder of a sandbox that has no pack installed (a refused first start). */
  private async forgetIfEmpty(sandboxId: string): Promise<void> {
    await this.serial(async () => {
      const state = await this.load();
      const mine = state[sandboxId];
      if (mine && (mine.packs.length > 0 || mine.mcp.length > 0)) return;
      if (mine) {
        delete state[sandboxId];
        await this.save(state);
      }
      if (/^[A-Za-z0-9_-]+$/.test(sandboxId))
        await rm(path.join(this.stateDir, 'sandboxes', sandboxId), { recursive: true, force: true });
    });
  }

  /** The credential bindings the packs installed in a sandbox declare (decided by the egress layer's doors). */
  async packBindings(sandboxId: string): Promise<PackBinding[]> {
    const mine = (await this.load())[sandboxId];
    const out: PackBinding[] = [];
    for (const p of this.installedSpecs(mine ?? { packs: [], mcp: [] })) {
      for (const c of p.spec.credentials) {
        const need = p.spec.egress.map(parseEgressNeed).find((n) => n.host === c.host);
        if (!need) continue;
        out.push({
          pack: p.name,
          version: p.version,
          binding: {
            secret: c.secret,
            host: c.host,
            ...(c.paths ? { paths: c.paths } : {}),
            header: c.header,
            format: c.format,
            env: c.env,
          },
          port: need.port,
          required: c.required,
        });
      }
    }
    return out;
  }

  /**
   * After an install or removal: the sandbox's bindings decided again and its proxy reloaded; each outcome of the
   * packs `names` is audited (never a value). Returns those outcomes.
   */
  private async refreshCredentials(
    target: Pick<PackTarget, 'id' | 'name'>,
    names: string[],
  ): Promise<BindingOutcome[]> {
    const b = await this.deps.egress?.refreshBindings(target);
    const mine = (b?.outcomes ?? []).filter((o) => o.pack !== undefined && names.includes(o.pack));
    for (const o of mine) {
      await this.deps.audit.append({
        kind: 'pack.credential',
        sandbox: target.name,
        sandboxId: target.id,
        data: {
          pack: o.pack,
          secret: o.secret,
          host: o.host,
          env: o.env,
          given: o.given,
          decisions: o.decisions,
          ...(o.reason ? { reason: o.reason } : {}),
        },
      });
      if (!o.given)
        this.deps.logger.warn(
          { sandbox: target.name, pack: o.pack, secret: o.secret, host: o.host, reason: o.reason },
          'pack credential binding not given',
        );
    }
    return mine;
  }

  /** PATH, LD_LIBRARY_PATH and the packs' own variables for every later command in the sandbox. */
  async execEnv(ctx: { id: string }): Promise<Record<string, string>> {
    const mine = (await this.load())[ctx.id];
    return mine ? packEnv(this.installedSpecs(mine)) : {};
  }

  /** Reads the registry folder again (edits since start included): every problem by file and line. */
  async lint(): Promise<{ dir: string; packs: string[]; problems: string[] }> {
    const fresh = await PackRegistry.load(this.registry.dir);
    return {
      dir: fresh.dir,
      packs: fresh.list().map((m) => m.name),
      problems: fresh.problems.map((p) => `${p.file}:${p.line}: ${p.message}`),
    };
  }

  // ---- the cache ----

  async list(): Promise<{ packs: ReturnType<PackRegistry['list']>; built: BuiltPack[]; problems: string[] }> {
    return {
      packs: this.registry.list(),
      built: await listArtifacts(this.cacheDir),
      problems: this.registry.problems.map((p) => `${p.file}:${p.line}: ${p.message}`),
    };
  }

  /** Builds a pack version unless its artifact is cached (or `force`); one build per version at a time. */
  async build(
    ref: string,
    opts: { force?: boolean; onProgress?: (p: PackBuildProgress) => void } = {},
  ): Promise<{ built: BuiltPack; cached: boolean }> {
    const r = this.registry.resolve(ref);
    const id = `${r.manifest.name}@${r.version}`;
    const have = await this.artifactOf(r);
    if (have && !opts.force) return { built: have, cached: true };
    const running = this.building.get(id);
    if (running) throw packErrors.create('PACK_BUILD_BUSY', `${id} is being built already`, { pack: id });
    const job = (async () => {
      const baseStatus = await this.baseStatus();
      const ids = await builderIds();
      const t0 = Date.now();
      const built = await buildPack(r.manifest, r.version, r.spec, {
        cacheDir: this.cacheDir,
        baseStatus,
        ...ids,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...(this.deps.egress
          ? {
              openBuilder: (scratch: string, hosts: string[], view?: string, o?: { debianCache: boolean }) =>
                this.openBuilder(scratch, hosts, view, o?.debianCache === true),
              ...(this.packageCache ? { debianCache: { keyring: this.debianKeyring() } } : {}),
            }
          : {}),
        ...(r.spec.cds ? { requires: await this.requiredArtifacts(r) } : {}),
      });
      this.deps.logger.info({ pack: id, key: built.key, ms: Date.now() - t0 }, 'pack built');
      return built;
    })();
    this.building.set(id, job);
    try {
      return { built: await job, cached: false };
    } finally {
      this.building.delete(id);
    }
  }

  /**
   * A builder sandbox; with `debianCache`, a package cache listener of its own whose door allows the Debian archive
   * alone (the daemon decides a builder's allowlist, not the policy), opened in the builder's ruleset and closed
   * with it.
   */
  private async openBuilder(
    scratch: string,
    hosts: string[],
    view: string | undefined,
    debianCache: boolean,
  ): Promise<BuilderSandbox> {
    const deps = { ...this.deps, egress: this.deps.egress! };
    const cache = this.packageCache;
    if (!debianCache || !cache) return openBuilderSandbox(deps, scratch, hosts, view);
    const listener = `pkb-cache-${randomBytes(6).toString('hex')}`;
    const debian = PackageCacheConfig.parse(
      (this.deps.config as { packageCache?: unknown }).packageCache ?? {},
    ).debian;
    const allowed = debian.policyHost ?? new URL(debian.upstream).hostname;
    const door: EgressDoor = (_sandbox, request) =>
      Promise.resolve(
        request.host === allowed
          ? { id: 'pack-builder', outcome: 'allow', reason: 'a pack build fetches its Debian sources' }
          : { id: 'pack-builder', outcome: 'deny', reason: 'a pack build fetches only its Debian sources' },
      );
    const port = await cache.openFor(listener, 'pack-builder', undefined, door);
    try {
      const builder = await openBuilderSandbox(deps, scratch, hosts, view, [{ name: 'package-cache', port }]);
      return {
        ...builder,
        debianMirror: cache.envFor(port)['AIBOX_DEBIAN_MIRROR'],
        close: async () => {
          await builder.close();
          await cache.closeFor(listener);
        },
      };
    } catch (err) {
      await cache.closeFor(listener);
      throw err;
    }
  }

  private debianKeyring(): string {
    return PackageCacheConfig.parse((this.deps.config as { packageCache?: unknown }).packageCache ?? {})
      .debian.keyring;
  }

  /** The artifacts of the packs a pack requires (built if the cache lacks them), for a CDS training run. */
  private async requiredArtifacts(
    r: ResolvedPack,
  ): Promise<{ name: string; key: string; dir: string; spec: PackVersionSpec }[]> {
    const out: { name: string; key: string; dir: string; spec: PackVersionSpec }[] = [];
    for (const n of r.manifest.requires) {
      const req = this.registry.resolve(n);
      const { built } = await this.build(`${req.manifest.name}@${req.version}`);
      out.push({ name: req.manifest.name, key: built.key, dir: built.dir, spec: req.spec });
    }
    return out;
  }

  /** Removes cached artifacts of a pack (all versions, or one); refused while a sandbox has it installed. */
  async removeFromCache(ref: string): Promise<string[]> {
    const r = this.registry.resolve(ref);
    const explicit = ref.includes('@');
    // A removed sandbox's packs do not hold the artifact (its record is otherwise swept at the next start only).
    await this.sweep();
    const state = await this.load();
    const removed: string[] = [];
    for (const a of await listArtifacts(this.cacheDir)) {
      if (a.name !== r.manifest.name || (explicit && a.version !== r.version)) continue;
      const users = Object.values(state).filter((s) =>
        s.packs.some((p) => p.key === a.key && p.name === a.name),
      );
      if (users.length > 0)
        throw packErrors.create(
          'PACK_CACHE_IN_USE',
          `${a.name}@${a.version} is installed in ${users.length} sandbox(es)`,
        );
      await rm(a.dir, { recursive: true, force: true });
      removed.push(`${a.name}@${a.version}-${a.key}`);
    }
    return removed;
  }

  // ---- one sandbox ----

  async installed(sandboxId: string): Promise<PackReport[]> {
    const mine = (await this.load())[sandboxId] ?? { packs: [], mcp: [] };
    return mine.packs.map((p) => ({
      name: p.name,
      version: p.version,
      key: p.key,
      kind: this.registry.list().find((m) => m.name === p.name)?.kind ?? 'tool',
      installedAt: p.installedAt,
      mcpEnabled: mine.mcp.includes(p.name),
      path: `${PACKS_MOUNT}/${p.name}`,
      egress: p.egress ?? [],
      via: p.via ?? 'api',
    }));
  }

  /**
   * Installs a pack (and the packs it requires) into a running sandbox: policy decides each, the artifact is built
   * if the cache lacks it, then hard-linked into the sandbox's packs folder (read-only inside) and recorded.
   */
  async install(
    target: Pick<PackTarget, 'id' | 'name'>,
    ref: string,
  ): Promise<{ installed: PackReport[]; decisions: string[] }> {
    return this.serial(() => this.installLocked(target, ref, 'api'));
  }

  /**
   * Every run-time egress need of a pack through the egress door for the sandbox. All-or-nothing: one denied need
   * refuses the install (POLICY_DENIED naming the pack, the host and the decision id), before anything is built
   * or linked. An allowed need is inside the sandbox's effective egress by construction (allowlists intersect), so
   * the egress layer already renders it; a later policy change that denies it closes it there, live.
   */
  private async decideEgress(
    target: Pick<PackTarget, 'id' | 'name'>,
    c: ResolvedPack,
  ): Promise<EgressGrant[]> {
    const grants: EgressGrant[] = [];
    for (const need of c.spec.egress) {
      const req = parseEgressNeed(need);
      const d = await this.deps.policy.decide('egress', req, target.name);
      if (d.outcome === 'deny') {
        await this.deps.audit.append({
          kind: 'pack.egress',
          sandbox: target.name,
          sandboxId: target.id,
          data: { pack: c.manifest.name, version: c.version, ...req, outcome: 'deny', decision: d.id },
        });
        throw policyErrors.create(
          'POLICY_DENIED',
          `pack ${c.manifest.name} needs egress to ${req.host}:${req.port} at run time, which policy denies for sandbox "${target.name}": ${d.reason} (decision ${d.id}: aibox policy explain --log-entry ${d.id}); nothing was installed`,
          { decision: d.id, door: 'egress', pack: c.manifest.name, host: req.host, port: req.port },
        );
      }
      grants.push({ ...req, decision: d.id });
    }
    return grants;
  }

  private async installLocked(
    target: Pick<PackTarget, 'id' | 'name'>,
    ref: string,
    via: 'api' | 'project',
  ): Promise<{ installed: PackReport[]; decisions: string[] }> {
    {
      const r = this.registry.resolve(ref);
      const state = await this.load();
      const mine = (state[target.id] ??= { packs: [], mcp: [] });
      if (mine.packs.some((p) => p.name === r.manifest.name))
        throw packErrors.create(
          'PACK_ALREADY_INSTALLED',
          `${r.manifest.name} is installed in sandbox "${target.name}" already`,
          { pack: r.manifest.name, sandbox: target.name },
        );
      const chain = [
        ...r.manifest.requires
          .filter((n) => !mine.packs.some((p) => p.name === n))
          .map((n) => this.registry.resolve(n)),
        r,
      ];
      const decisions: string[] = [];
      const grants: EgressGrant[][] = [];
      for (const c of chain) {
        const d = await this.deps.policy.authorize(
          'packs',
          { name: c.manifest.name, version: c.version, kind: c.manifest.kind },
          target.name,
        );
        decisions.push(d.id);
      }
      // Only once every pack of the chain is allowed: the egress needs of each (all decided before any build).
      for (const c of chain) grants.push(await this.decideEgress(target, c));
      const folder = await this.folderOf(target.id);
      const added: string[] = [];
      for (const [i, c] of chain.entries()) {
        const { built } = await this.build(`${c.manifest.name}@${c.version}`);
        const dest = path.join(folder, c.manifest.name);
        await rm(dest, { recursive: true, force: true });
        await linkTree(built.dir, dest);
        mine.packs.push({
          name: c.manifest.name,
          version: c.version,
          key: built.key,
          installedAt: new Date().toISOString(),
          egress: grants[i] ?? [],
          via,
        });
        added.push(c.manifest.name);
        await this.deps.audit.append({
          kind: 'pack.install',
          sandbox: target.name,
          sandboxId: target.id,
          data: {
            pack: c.manifest.name,
            version: c.version,
            key: built.key,
            decision: decisions[i],
            via,
            egress: (grants[i] ?? []).map((g) => `${g.host}:${g.port} (${g.decision})`),
          },
        });
      }
      await this.save(state);
      await this.writeIndex(target.id, mine);
      const credentials = await this.refreshCredentials(target, added);
      // Without an enforcing egress layer no proxy injects anything: a required binding cannot be given.
      const unenforced = this.deps.egress?.enforcing
        ? undefined
        : chain
            .flatMap((c) => c.spec.credentials.map((k) => ({ ...k, pack: c.manifest.name })))
            .filter((k) => k.required)
            .map((k) => ({
              ...k,
              decisions: [] as string[],
              reason: 'this daemon runs sandboxes without the egress layer, which injects credentials',
            }))[0];
      const missing = credentials.find((o) => o.required && !o.given) ?? unenforced;
      if (missing) {
        // A required binding that cannot be given: the install is undone (nothing of it stays).
        mine.packs = mine.packs.filter((p) => !added.includes(p.name));
        await this.save(state);
        for (const n of added) await rm(path.join(folder, n), { recursive: true, force: true });
        await this.writeIndex(target.id, mine);
        await this.deps.egress?.refreshBindings(target);
        throw packErrors.create(
          'PACK_CREDENTIAL_UNAVAILABLE',
          `pack ${missing.pack} requires the credential ${missing.secret} for ${missing.host}, which sandbox "${target.name}" cannot be given: ${missing.reason ?? 'unknown'}; nothing was installed`,
          { pack: missing.pack, secret: missing.secret, host: missing.host, decisions: missing.decisions },
        );
      }
      const all = await this.installed(target.id);
      return {
        installed: all.filter((p) => added.includes(p.name)),
        decisions: [
          ...decisions,
          ...grants.flat().map((g) => g.decision),
          ...credentials.flatMap((o) => o.decisions),
        ],
      };
    }
  }

  async uninstall(target: PackTarget, name: string): Promise<void> {
    return this.serial(async () => {
      const state = await this.load();
      const mine = state[target.id];
      const entry = mine?.packs.find((p) => p.name === name);
      if (!mine || !entry)
        throw packErrors.create(
          'PACK_NOT_INSTALLED',
          `${name} is not installed in sandbox "${target.name}"`,
          {
            pack: name,
          },
        );
      const dependents = mine.packs.filter((p) =>
        this.registry
          .list()
          .find((m) => m.name === p.name)
          ?.requires.includes(name),
      );
      if (dependents.length > 0 || mine.mcp.includes(name))
        throw packErrors.create(
          'PACK_IN_USE',
          `${name} is in use in sandbox "${target.name}" (${mine.mcp.includes(name) ? 'an enabled MCP server' : `required by ${dependents.map((d) => d.name).join(', ')}`})`,
          { pack: name },
        );
      const pids = await this.processesUsing(target, name);
      if (pids.length > 0)
        throw packErrors.create(
          'PACK_IN_USE',
          `${name} is in use by process(es) ${pids.join(', ')} in sandbox "${target.name}"`,
          {
            pack: name,
          },
        );
      mine.packs = mine.packs.filter((p) => p !== entry);
      await this.save(state);
      await rm(path.join(await this.folderOf(target.id), name), { recursive: true, force: true });
      await this.writeIndex(target.id, mine);
      // Its bindings go with it: the proxy stops injecting, later commands lose the placeholder.
      await this.deps.egress?.refreshBindings(target);
      await this.deps.audit.append({
        kind: 'pack.uninstall',
        sandbox: target.name,
        sandboxId: target.id,
        data: { pack: name, version: entry.version, key: entry.key },
      });
    });
  }

  // ---- MCP ----

  async mcpEnable(target: PackTarget, ref: string): Promise<{ enabled: string; installed: string[] }> {
    const r = this.registry.resolve(ref);
    if (!r.spec.mcp)
      throw packErrors.create('PACK_NOT_MCP', `${r.manifest.name} is not an MCP server`, {
        pack: r.manifest.name,
      });
    let installed: string[] = [];
    if (!(await this.installed(target.id)).some((p) => p.name === r.manifest.name)) {
      installed = (await this.install(target, ref)).installed.map((p) => p.name);
    }
    await this.serial(async () => {
      const state = await this.load();
      const mine = state[target.id]!;
      if (!mine.mcp.includes(r.manifest.name)) mine.mcp.push(r.manifest.name);
      await this.save(state);
      await this.writeIndex(target.id, mine);
      await this.deps.audit.append({
        kind: 'pack.mcp.enable',
        sandbox: target.name,
        sandboxId: target.id,
        data: { pack: r.manifest.name },
      });
    });
    await this.writeClientConfigs(target);
    return { enabled: r.manifest.name, installed };
  }

  async mcpDisable(target: PackTarget, name: string): Promise<void> {
    await this.serial(async () => {
      const state = await this.load();
      const mine = state[target.id];
      if (!mine?.mcp.includes(name))
        throw packErrors.create(
          'PACK_NOT_INSTALLED',
          `MCP server ${name} is not enabled in sandbox "${target.name}"`,
          {
            pack: name,
          },
        );
      mine.mcp = mine.mcp.filter((n) => n !== name);
      await this.save(state);
      await this.writeIndex(target.id, mine);
      await this.deps.audit.append({
        kind: 'pack.mcp.disable',
        sandbox: target.name,
        sandboxId: target.id,
        data: { pack: name },
      });
    });
    await this.writeClientConfigs(target);
  }

  /** The enabled MCP servers as the index lists them ({ mcpServers: { name: { command, args } } }). */
  async mcpServers(sandboxId: string): Promise<Record<string, { command: string; args: string[] }>> {
    const mine = (await this.load())[sandboxId];
    const out: Record<string, { command: string; args: string[] }> = {};
    for (const n of mine?.mcp ?? []) out[n] = { command: `${PACKS_MOUNT}/.aibox/bin/${n}`, args: [] };
    return out;
  }

  /**
   * For `aibox doctor --sandbox`: each installed pack's smoke test inside the sandbox, and each of its egress needs
   * against the policy in force now (a need a later policy change denied is closed by the egress layer: reported).
   */
  async smoke(target: PackTarget): Promise<{ name: string; ok: boolean; detail: string }[]> {
    const mine = (await this.load())[target.id];
    const out: { name: string; ok: boolean; detail: string }[] = [];
    const outcomes = this.deps.egress?.bindingOutcomes(target.id) ?? [];
    for (const p of this.installedSpecs(mine ?? { packs: [], mcp: [] })) {
      for (const need of p.spec.egress) {
        const req = parseEgressNeed(need);
        const d = await this.deps.policy.decide('egress', req, target.name);
        out.push({
          name: `${p.name}@${p.version} egress ${req.host}:${req.port}`,
          ok: d.outcome !== 'deny',
          detail: `${d.outcome === 'deny' ? `denied: ${d.reason}` : 'allowed'} (decision ${d.id})`,
        });
      }
      // Each credential binding as the egress layer last decided it: not given is a failure only when required.
      for (const o of outcomes.filter((b) => b.pack === p.name)) {
        out.push({
          name: `${p.name}@${p.version} credential ${o.env} → ${o.host}`,
          ok: o.given || !o.required,
          detail: o.given
            ? `given (decision ${o.decisions.join(', ')})`
            : `not given: ${o.reason ?? 'unknown'}`,
        });
      }
      const argv = p.spec.smoke.map((a) => expand(a, `${PACKS_MOUNT}/${p.name}`));
      const r = await target
        .exec(argv)
        .catch((err: unknown) => ({ exitCode: -1, stdout: '', stderr: String(err) }));
      const text = `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
      out.push({
        name: `${p.name}@${p.version}`,
        ok: r.exitCode === 0,
        detail: `${argv.join(' ')}: ${r.exitCode === 0 ? text : `exit ${r.exitCode} ${text}`}`,
      });
    }
    return out;
  }

  // ---- internals ----

  private installedSpecs(mine: SandboxPacks): InstalledPack[] {
    const out: InstalledPack[] = [];
    for (const p of mine.packs) {
      try {
        out.push({
          name: p.name,
          version: p.version,
          key: p.key,
          spec: this.registry.resolve(`${p.name}@${p.version}`).spec,
        });
      } catch {
        /* a manifest that went away: its files stay, its environment does not */
      }
    }
    return out;
  }

  /** The daemon-owned index (/opt/aibox/packs/.aibox/mcp.json), an env file for shells, and one launcher per server. */
  private async writeIndex(sandboxId: string, mine: SandboxPacks): Promise<void> {
    const dir = path.join(await this.folderOf(sandboxId), '.aibox');
    const tmp = `${dir}.new`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(path.join(tmp, 'bin'), { recursive: true, mode: 0o755 });
    const env = packEnv(this.installedSpecs(mine));
    const exports = Object.entries(env)
      .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
      .join('\n');
    await writeFile(path.join(tmp, 'env.sh'), `${exports}\n`, { mode: 0o444 });
    const servers: Record<string, { command: string; args: string[] }> = {};
    for (const n of mine.mcp) {
      const spec = this.installedSpecs(mine).find((p) => p.name === n)?.spec;
      if (!spec?.mcp) continue;
      // The agent's client starts the launcher; the server itself is started by the gateway, inside the sandbox.
      const gw = this.gateways.get(sandboxId);
      await writeFile(
        path.join(tmp, 'bin', n),
        gw ? relayLauncher({ host: this.gatewayHost, ...gw, server: n }) : refusingLauncher(n),
        { mode: 0o555 },
      );
      servers[n] = { command: `${PACKS_MOUNT}/.aibox/bin/${n}`, args: [] };
    }
    await writeFile(path.join(tmp, 'mcp.json'), `${JSON.stringify({ mcpServers: servers }, null, 2)}\n`, {
      mode: 0o444,
    });
    await chmod(tmp, 0o555);
    const old = `${dir}.old`;
    await rm(old, { recursive: true, force: true });
    if (existsSync(dir)) await rename(dir, old);
    await rename(tmp, dir);
    await rm(old, { recursive: true, force: true });
  }

  /**
   * The standard client files in the sandbox user's home (~/.mcp.json, ~/.claude.json, ~/.codex/config.toml),
   * written from inside the sandbox as its user: the home is the agent's, so the daemon never writes there itself.
   */
  private async writeClientConfigs(target: PackTarget): Promise<void> {
    const servers = await this.mcpServers(target.id);
    const managed = this.registry
      .list()
      .filter((m) => m.kind === 'mcp')
      .map((m) => m.name);
    const r = await target.exec([
      'python3',
      '-c',
      CLIENT_CONFIG_SCRIPT,
      JSON.stringify({ servers, managed }),
    ]);
    if (r.exitCode !== 0)
      this.deps.logger.warn(
        { sandbox: target.name, stderr: r.stderr.slice(0, 300) },
        'MCP client configs not written',
      );
  }

  private async processesUsing(target: PackTarget, name: string): Promise<string[]> {
    const script =
      'for p in /proc/[0-9]*; do n=${p#/proc/}; [ "$n" = "$$" ] && continue; ' +
      'case "$(readlink $p/exe 2>/dev/null)" in "$1"/*) echo $n; continue;; esac; ' +
      'grep -qF "$1/" $p/maps 2>/dev/null && echo $n; done; true';
    const r = await target.exec(['sh', '-c', script, 'sh', `${PACKS_MOUNT}/${name}`]);
    return r.stdout.split('\n').filter((l) => /^\d+$/.test(l));
  }

  private async artifactOf(r: ResolvedPack): Promise<BuiltPack | undefined> {
    // Newest first; an artifact built from other sources than the manifest now lists is not this version any more
    // (artifacts from before sources were recorded are taken as they are).
    const sources = sourcesKey(r.spec);
    return (await listArtifacts(this.cacheDir)).find(
      (a) =>
        a.name === r.manifest.name &&
        a.version === r.version &&
        // (an artifact from before was not relocated, trained or given files: a version that is needs a new build)
        ((a.sources === undefined && !r.spec.relocate && !r.spec.cds && r.spec.files.length === 0) ||
          a.sources === sources),
    );
  }

  /** The base image's dpkg status, from its cached rootfs tarball (the closure leaves out what the image has). */
  private async baseStatus(): Promise<string> {
    const ref = await this.deps.runtime.image.reference();
    const tag = ref.slice(ref.lastIndexOf(':') + 1);
    const out = path.join(this.cacheDir, `.base-status-${tag}`);
    if (existsSync(out)) return out;
    const tarball = path.join(this.deps.config.runtime.image.cacheDir, `aibox-base-${tag}.tar`);
    if (!existsSync(tarball))
      throw packErrors.create(
        'PACK_BASE_IMAGE_MISSING',
        `the base image's rootfs (${tarball}) is not in the cache`,
      );
    await mkdir(this.cacheDir, { recursive: true, mode: 0o755 });
    const r = await execa('tar', ['-xOf', tarball, './var/lib/dpkg/status'], {
      encoding: 'buffer',
      reject: false,
    });
    if (r.exitCode !== 0)
      throw packErrors.create('PACK_BASE_IMAGE_MISSING', `cannot read the dpkg status of ${tarball}`);
    await writeFileAtomic(out, r.stdout, { mode: 0o644 });
    return out;
  }

  private async folderOf(sandboxId: string): Promise<string> {
    if (!/^[A-Za-z0-9_-]+$/.test(sandboxId)) throw new Error(`bad sandbox id ${sandboxId}`);
    const folder = path.join(this.stateDir, 'sandboxes', sandboxId);
    await mkdir(folder, { recursive: true, mode: 0o755 });
    await chmod(folder, 0o755);
    return folder;
  }

  private async load(): Promise<Record<string, SandboxPacks>> {
    const text = await readFile(path.join(this.stateDir, 'installed.json'), 'utf8').catch(() => '{}');
    return JSON.parse(text) as Record<string, SandboxPacks>;
  }

  private async save(state: Record<string, SandboxPacks>): Promise<void> {
    const file = path.join(this.stateDir, 'installed.json');
    await writeJsonAtomic(file, state, { mode: 0o600 });
  }

  /** Installs and removals read-modify-write one state file: one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Hard links (same file system: instant, no extra space), else a copy; into a fresh folder renamed into place. */
async function linkTree(src: string, dest: string): Promise<void> {
  const tmp = `${dest}.partial`;
  await rm(tmp, { recursive: true, force: true });
  const linked = await execa('cp', ['-al', src, tmp], { reject: false });
  if (linked.exitCode !== 0) {
    await rm(tmp, { recursive: true, force: true });
    await execa('cp', ['-a', src, tmp]);
  }
  await rename(tmp, dest);
}

async function builderIds(): Promise<{ uid: number; gid: number }> {
  const m = SYSTEM_ID_LOOKUP.exec(await readFile('/etc/passwd', 'utf8').catch(() => ''));
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : { uid: BUILDER_ID, gid: BUILDER_ID };
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Merges aiboxd's MCP servers into the clients' files; entries of packs no longer enabled are removed. */
const CLIENT_CONFIG_SCRIPT = `
import json, os, re, sys
cfg = json.loads(sys.argv[1]); servers = cfg["servers"]; managed = set(cfg["managed"])
home = os.path.expanduser("~")
def merge_json(p):
    try:
        with open(p) as f: data = json.load(f)
        if not isinstance(data, dict): data = {}
    except Exception:
        data = {}
    m = data.get("mcpServers") if isinstance(data.get("mcpServers"), dict) else {}
    for k in list(m):
        if k in managed and k not in servers: del m[k]
    for k, v in servers.items(): m[k] = {"type": "stdio", "command": v["command"], "args": v["args"]}
    data["mcpServers"] = m
    tmp = p + ".aibox-tmp"
    with open(tmp, "w") as f: json.dump(data, f, indent=2)
    os.replace(tmp, p)
merge_json(os.path.join(home, ".mcp.json"))
merge_json(os.path.join(home, ".claude.json"))
os.makedirs(os.path.join(home, ".codex"), exist_ok=True)
p = os.path.join(home, ".codex", "config.toml")
try:
    text = open(p).read()
except Exception:
    text = ""
for k in managed:
    text = re.sub(r"(?ms)^\\[mcp_servers\\." + re.escape(json.dumps(k)) + r"\\]\\n.*?(?=^\\[|\\Z)", "", text)
for k, v in servers.items():
    text += "\\n[mcp_servers." + json.dumps(k) + "]\\ncommand = " + json.dumps(v["command"]) + "\\nargs = " + json.dumps(v["args"]) + "\\n"
with open(p + ".aibox-tmp", "w") as f: f.write(text)
os.replace(p + ".aibox-tmp", p)
`;
