import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import type { AuditLog } from '../../audit/index.js';
import { loadProfile } from '../../config/index.js';
import {
  ENGINE_DISK_DEFAULT_MIB,
  ENGINE_NET_READY,
  EngineFront,
  EngineNetwork,
  EngineSandboxes,
  EngineStore,
  engineErrors,
  engineLabelId,
} from '../../engine/index.js';
import { isAiboxError, messageOf, newId } from '../../shared/index.js';
import type {
  HookDeps,
  RunningSandbox,
  SandboxContribution,
  SandboxHook,
  SandboxHookContext,
} from './hooks.js';
import { SandboxRecords } from './sandbox-records.js';
import type { PolicyService } from './policy.js';

/** Importing the base image into a fresh engine's store takes ~35 s on the reference host: room for a busy one. */
const READY_TIMEOUT_MS = 240_000;
/** A re-adopted engine was already up: its API answers at once unless it is stuck. */
const ADOPT_READY_TIMEOUT_MS = 30_000;

export interface EngineServiceDeps extends HookDeps {
  policy: Pick<PolicyService, 'decide' | 'store'>;
  audit: Pick<AuditLog, 'append'>;
  /** Whether egress is enforced: the agent reaches the engine's front through its egress rules only. */
  networked: boolean;
  /** The agent sandbox's egress proxy (its Squid) as sandboxes see it: the engine's only way out. */
  egressProxy(sandboxId: string): { address: string; port: number } | undefined;
  /** The agent sandbox's egress CA certificate (host path, no key), which RUN steps then trust; none: they do not. */
  egressCaCert?(sandboxId: string): string | undefined;
  readyTimeoutMs?: number;
}

interface EngineRecord {
  sandboxId: string;
  sandbox: string;
  engineId: string;
  /** The front's port: the sandbox's DOCKER_HOST names it, so a re-adopted front listens on it again. */
  port: number;
  /** What `info` reports of the engine's limits, as they were when it started. */
  limits?: { cpus: number; memoryMiB: number };
  containerId?: string;
  /** The agent's proxy the engine was started with (its service's environment): a re-adopted engine needs the same. */
  proxy?: { address: string; port: number };
}

/**
 * The container engine of a sandbox (docs/container-engine.md), when the containers door and the profile allow it:
 * its own gVisor sandbox (rootful Podman inside gVisor, vfs, chroot builds), whose API socket only aiboxd reaches,
 * behind a filtering front on the sandbox's own gateway port (DOCKER_HOST / CONTAINER_HOST). Its network reaches
 * the agent sandbox's own Squid and nothing else, so a RUN step fetches what the agent's egress policy allows.
 * prepare opens the front; started (after egress's) builds the engine image if needed, starts the engine, applies
 * and checks its ruleset, gives it the go-ahead, and waits until its API answers; stop
 * removes the engine with its state; adopt re-attaches a running engine after a daemon restart, or fails closed.
 */
export class EngineService implements SandboxHook {
  readonly layer = 'engine';
  private readonly dir: string;
  private readonly records: SandboxRecords<EngineRecord>;
  private readonly fronts = new Map<string, EngineFront>();
  private sandboxesCache: EngineSandboxes | undefined;

  constructor(private readonly deps: EngineServiceDeps) {
    this.dir = path.join(deps.config.stateDir, 'engine');
    this.records = new SandboxRecords(this.dir);
  }

  /** Whether a sandbox gets an engine: the containers door's effective value, its decision, and the profile. */
  private async wanted(ctx: SandboxHookContext): Promise<boolean> {
    if (ctx.ephemeral) return false;
    if (!this.deps.policy.store.policySet(ctx.name).effective.containers.engine) return false;
    const profile = await loadProfile(this.deps.config.profilesDir, ctx.profile);
    if (profile.containerEngine === false) return false;
    const d = await this.deps.policy.decide('containers', { action: 'engine' }, ctx.name);
    return d.outcome !== 'deny';
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    await this.release(ctx.id);
    if (!(await this.wanted(ctx))) return {};
    if (!this.deps.networked)
      throw engineErrors.create(
        'ENGINE_START_FAILED',
        'the container engine needs egress enforcement, which this daemon runs without',
      );
    const engineId = newId('eng');
    const { limits } = await loadProfile(this.deps.config.profilesDir, ctx.profile);
    const record: EngineRecord = {
      sandboxId: ctx.id,
      sandbox: ctx.name,
      engineId,
      port: 0,
      limits: { cpus: limits.cpus, memoryMiB: limits.memoryMiB },
    };
    record.port = await this.openFront(record);
    await this.records.save(record);
    const url = `tcp://${this.deps.config.egress.sandboxHostAddress}:${record.port}`;
    return {
      env: { DOCKER_HOST: url, CONTAINER_HOST: url },
      network: true,
      endpoints: { engine: url },
    };
  }

  async started(sandbox: RunningSandbox): Promise<void> {
    const record = await this.records.load(sandbox.id);
    if (!record) return;
    const { runtime, config } = this.deps;
    try {
      const profile = await loadProfile(config.profilesDir, sandbox.profile);
      const proxy = this.deps.egressProxy(sandbox.id);
      if (!proxy)
        throw engineErrors.create(
          'ENGINE_START_FAILED',
          'engine network: the sandbox has no egress proxy for the engine to use',
        );
      const ca = await this.writeCa(sandbox.id);
      const apiDir = path.dirname(this.socketPath(sandbox.id));
      // gVisor creates the socket as the engine's root: rootless, that is the aibox user; rootful, host root.
      await mkdir(apiDir, { recursive: true, mode: 0o700 });
      if (runtime.rootless && runtime.user) await chown(apiDir, runtime.user.uid, runtime.sandboxHostIds.gid);
      // The engine's disk: a kernel-capped file system that its root filesystem and all its writes live on.
      const store = this.store(sandbox.id, profile.containerEngineDiskMiB);
      await store.create();
      const { containerId, pid } = await this.engines().start(
        {
          id: record.engineId,
          sandboxId: sandbox.id,
          sandboxName: sandbox.name,
          daemonId: this.deps.daemonId,
          socketDir: apiDir,
          ...(ca ? { caDir: ca.dir, caFile: ca.file } : {}),
          rootless: runtime.rootless,
          sandboxUid: config.runtime.sandboxUid,
          limits: profile.limits,
          proxy: `http://${proxy.address}:${proxy.port}`,
        },
        store,
        this.rootlessEngineRoot(),
      );
      record.containerId = containerId;
      record.proxy = { address: proxy.address, port: proxy.port };
      await this.records.save(record);
      if (runtime.rootless) await runtime.limits.apply(record.engineId, profile, pid);
      // The engine's entrypoint waits for the go-ahead: nothing leaves it before this ruleset is up and checked.
      await new EngineNetwork({ nft: config.egress.nft, nsenter: config.egress.nsenter }).apply(pid, {
        engineId: record.engineId,
        proxyAddress: proxy.address,
        proxyPort: proxy.port,
      });
      await writeFile(path.join(apiDir, path.basename(ENGINE_NET_READY)), '', { mode: 0o644 });
      const t0 = Date.now();
      await this.engines().waitReady(
        containerId,
        this.socketPath(sandbox.id),
        this.deps.readyTimeoutMs ?? READY_TIMEOUT_MS,
      );
      sandbox.logger.info({ engine: record.engineId, readyMs: Date.now() - t0 }, 'container engine running');
    } catch (err) {
      if (isAiboxError(err)) throw err;
      throw engineErrors.create(
        'ENGINE_START_FAILED',
        `the container engine did not start: ${messageOf(err)}`,
      );
    }
  }

  /**
   * After a daemon restart, from the daemon's own record of the engine (never from the sandbox): its container must
   * still run as this sandbox's engine, its disk be mounted, the agent's proxy be the one it was started with; then
   * its ruleset is applied again and checked (one atomic replacement in its namespace), the front listens again on
   * the port the sandbox's DOCKER_HOST names, and the engine's API must answer. Any failure throws
   * ENGINE_ADOPT_FAILED: the sandbox is stopped, and its stop removes the engine (fail closed).
   */
  async adopt(sandbox: RunningSandbox): Promise<void> {
    const record = await this.records.load(sandbox.id);
    if (!record) return;
    const { config } = this.deps;
    try {
      if (!record.containerId) throw adoptFailure('it never finished starting (no container on record)');
      // Records of an older aiboxd lack the proxy (and label the engine differently): not adoptable.
      if (!record.proxy) throw adoptFailure('it was started by an older aiboxd (no proxy on record)');
      const { pid } = await this.engines().running(record.containerId, this.deps.daemonId, sandbox.id);
      await this.store(sandbox.id, undefined).assertMounted();
      const proxy = this.deps.egressProxy(sandbox.id);
      if (!proxy || proxy.address !== record.proxy.address || proxy.port !== record.proxy.port)
        throw adoptFailure(
          `the agent's proxy is ${proxy ? `${proxy.address}:${proxy.port}` : 'gone'}, the engine was started with ${record.proxy.address}:${record.proxy.port}`,
        );
      await new EngineNetwork({ nft: config.egress.nft, nsenter: config.egress.nsenter }).apply(pid, {
        engineId: record.engineId,
        proxyAddress: proxy.address,
        proxyPort: proxy.port,
      });
      await this.openFront(record);
      await this.engines().waitReady(record.containerId, this.socketPath(sandbox.id), ADOPT_READY_TIMEOUT_MS);
      sandbox.logger.info({ engine: record.engineId, port: record.port }, 'container engine re-adopted');
    } catch (err) {
      await this.fronts.get(sandbox.id)?.close();
      this.fronts.delete(sandbox.id);
      if (isAiboxError(err) && err.code === 'ENGINE_ADOPT_FAILED') throw err;
      throw adoptFailure(messageOf(err));
    }
  }

  /**
   * The start-up sweep's exceptions: for each re-adopted sandbox with an engine, `<sandbox id>-engine`, the
   * engine container's sandbox-id label and its disk's mount folder, so neither is swept as a leftover.
   */
  async keeps(adopted: ReadonlySet<string>): Promise<string[]> {
    const kept: string[] = [];
    for (const id of adopted) if (await this.records.load(id)) kept.push(engineLabelId(id));
    return kept;
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    await this.release(ctx.id);
  }

  /**
   * The agent's egress CA certificate for the engine's RUN steps: copied, alone, into a folder of the engine's state
   * as `<subject hash>.0` (OpenSSL's lookup name; the engine mounts the folder read-only). The source is the egress
   * layer's own file; it must hold exactly one certificate and no key.
   */
  private async writeCa(sandboxId: string): Promise<{ dir: string; file: string } | undefined> {
    const source = this.deps.egressCaCert?.(sandboxId);
    if (!source) return undefined;
    const pem = await readFile(source, 'utf8');
    if (/PRIVATE KEY/.test(pem) || (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length !== 1)
      throw engineErrors.create(
        'ENGINE_START_FAILED',
        'engine trust: the egress CA file is not one certificate',
      );
    const hash = await execa(
      this.deps.config.egress.tls.openssl,
      ['x509', '-hash', '-noout', '-in', source],
      {
        reject: false,
      },
    );
    const h = hash.stdout.trim();
    if (hash.exitCode !== 0 || !/^[0-9a-f]{8}$/.test(h))
      throw engineErrors.create(
        'ENGINE_START_FAILED',
        `engine trust: cannot hash the egress CA: ${hash.stderr.trim() || 'no output'}`,
      );
    const dir = path.join(this.records.folder(sandboxId), 'ca');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    const file = `${h}.0`;
    await writeFile(path.join(dir, file), pem, { mode: 0o644 });
    await chmod(path.join(dir, file), 0o644);
    return { dir, file };
  }

  /** Closes the front and removes the engine, its cgroup and its state (idempotent). */
  private async release(sandboxId: string): Promise<void> {
    await this.fronts.get(sandboxId)?.close();
    this.fronts.delete(sandboxId);
    const record = await this.records.load(sandboxId);
    if (record) {
      const containerId = record.containerId ?? (await this.engines().find(this.deps.daemonId, sandboxId));
      if (containerId) await this.engines().remove(containerId);
      await this.deps.runtime.limits.remove(record.engineId);
    }
    // After the container: unmounting frees the loop device and the (already unlinked) disk file.
    await this.deps.runtime.mounts.unmount(storeMountId(sandboxId));
    await this.records.remove(sandboxId);
  }

  async close(): Promise<void> {
    for (const f of this.fronts.values()) await f.close();
    this.fronts.clear();
  }

  /**
   * Opens the sandbox's front on the record's port (0 at prepare: any free one) and returns the port. Its `info`
   * facts are the record's and the disk's: nothing the agent writes.
   */
  private async openFront(record: EngineRecord): Promise<number> {
    const { sandboxId, sandbox, engineId, limits } = record;
    const store = this.store(sandboxId, undefined);
    const front = new EngineFront({
      socketPath: this.socketPath(sandboxId),
      host: this.deps.config.egress.listenAddress,
      ...(record.port ? { port: record.port } : {}),
      record: async (r) => {
        await this.deps.audit.append({ kind: 'engine.request', sandbox, sandboxId, data: { ...r } });
      },
      facts: async () => {
        const storage = await store.usage();
        return {
          id: engineId,
          hostname: `${sandbox}-engine`,
          cpus: limits?.cpus ?? 1,
          memoryMiB: limits?.memoryMiB ?? 0,
          suite: this.deps.config.runtime.image.suite,
          ...(storage ? { storage } : {}),
        };
      },
    });
    const port = await front.listen();
    this.fronts.set(sandboxId, front);
    return port;
  }

  private engines(): EngineSandboxes {
    this.sandboxesCache ??= new EngineSandboxes({
      podmanSocket: this.deps.runtime.podman.socketPath,
      baseReference: () => this.deps.runtime.image.reference(),
      cacheDir: this.deps.config.runtime.image.cacheDir,
      logger: this.deps.logger.child({ svc: 'engine' }),
    });
    return this.sandboxesCache;
  }

  /**
   * The engine's capped disk: the image file in the engine's state folder (unlinked once mounted), mounted in the
   * runtime's shared mounts folder under `<sandbox id>-engine` (see storeMountId).
   */
  private store(sandboxId: string, sizeMiB: number | undefined): EngineStore {
    const { runtime } = this.deps;
    const owner = this.rootlessEngineRoot() ?? { uid: 0, gid: 0 };
    return new EngineStore({
      imageFile: path.join(this.records.folder(sandboxId), 'disk.img'),
      mountPoint: runtime.mounts.targetOf(storeMountId(sandboxId)),
      sizeMiB: sizeMiB ?? ENGINE_DISK_DEFAULT_MIB,
      owner,
    });
  }

  /** Host ids of the engine's root when rootless (the aibox user); rootful, it is host root. */
  private rootlessEngineRoot(): { uid: number; gid: number } | undefined {
    const { runtime } = this.deps;
    return runtime.rootless && runtime.user
      ? { uid: runtime.user.uid, gid: runtime.sandboxHostIds.gid }
      : undefined;
  }

  private socketPath(sandboxId: string): string {
    return path.join(this.records.folder(sandboxId), 'api', 'podman.sock');
  }
}

/**
 * The mounts folder id of a sandbox's engine disk, `<sandbox id>-engine` like the engine container's label: the
 * runtime's start-up sweep keeps it for a sandbox it re-adopted and unmounts it otherwise.
 */
function storeMountId(sandboxId: string): string {
  return engineLabelId(sandboxId);
}

function adoptFailure(why: string) {
  return engineErrors.create('ENGINE_ADOPT_FAILED', `the engine cannot be re-adopted: ${why}`);
}
