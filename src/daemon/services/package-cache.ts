import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import {
  MAVEN_SETTINGS_SCRIPT,
  mavenSettingsXml,
  PackageCache,
  PackageCacheConfig,
  type UpstreamFetch,
} from '../../package-cache/index.js';
import { messageOf } from '../../shared/index.js';
import { writeJsonAtomic } from '../../shared/fs/index.js';
import type {
  HookDeps,
  RunningSandbox,
  SandboxContribution,
  SandboxHook,
  SandboxHookContext,
} from './hooks.js';
import type { PolicyService } from './policy.js';

const PortState = z.object({ port: z.number().int().positive() });

export interface PackageCacheHookDeps extends HookDeps {
  /** The egress door decides, per sandbox, which registries the cache fetches (and serves) for it. */
  policy: Pick<PolicyService, 'decide' | 'onChange'>;
  /** Tests count and poison what the cache fetches. */
  upstream?: UpstreamFetch;
}

/**
 * The shared package cache as a sandbox layer: each sandbox gets its own loopback port on the one host-wide cache
 * (kept across daemon restarts, so its environment stays right), npm pointed at it, and the endpoint the egress
 * layer opens. Off unless `packageCache.enabled`.
 */
export class PackageCacheHook implements SandboxHook {
  readonly layer = 'package-cache';

  private constructor(
    readonly cache: PackageCache | undefined,
    /** Write Maven's user settings (a mirror to the cache) in each sandbox's home when it starts. */
    private readonly mavenSettings: boolean,
    private readonly stateDir: string,
    private readonly deps: PackageCacheHookDeps,
  ) {}

  static async create(deps: PackageCacheHookDeps): Promise<PackageCacheHook> {
    const config = PackageCacheConfig.parse((deps.config as { packageCache?: unknown }).packageCache ?? {});
    const stateDir = path.join(deps.config.stateDir, 'package-cache-ports');
    if (!config.enabled) return new PackageCacheHook(undefined, false, stateDir, deps);
    const cache = new PackageCache({
      config,
      dir: config.dir || path.join(deps.config.stateDir, 'package-cache'),
      door: async (sandbox, request) => deps.policy.decide('egress', request, sandbox),
      logger: deps.logger.child({ layer: 'package-cache' }),
      ...(deps.upstream ? { upstream: deps.upstream } : {}),
    });
    await cache.init();
    deps.policy.onChange('egress', 'package-cache', (change) => {
      cache.forgetDecisions(change.sandbox);
    });
    const mavenSettings = config.maven.enabled && config.maven.settings;
    return new PackageCacheHook(cache, mavenSettings, stateDir, deps);
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    if (!this.cache) return {};
    const port = await this.cache.openFor(ctx.id, ctx.name);
    await writeJsonAtomic(this.stateFile(ctx.id), { port }, { mode: 0o600, mkdirMode: 0o700 });
    return {
      env: this.cache.envFor(port),
      network: true,
      endpoints: { 'package-cache': `${this.cache.urlOf(port)}/` },
    };
  }

  /**
   * ~/.m2/settings.xml pointing Maven at the cache (Maven 3.8 takes mirrors from no variable), written inside the
   * sandbox as its user, unless the user has a settings file of their own. Best effort: a sandbox without it still
   * runs, and Maven then goes to its repositories through the egress proxy as the policy allows.
   */
  async started(sandbox: RunningSandbox): Promise<void> {
    if (!this.cache || !this.mavenSettings) return;
    const r = await this.deps.runtime
      .execBuffered(sandbox.containerId, {
        cmd: ['sh', '-c', MAVEN_SETTINGS_SCRIPT, 'sh', mavenSettingsXml()],
        maxProcesses: 32,
        timeoutMs: 15_000,
      })
      .catch((err: unknown) => ({ exitCode: -1, stdout: '', stderr: messageOf(err) }));
    if (r.exitCode !== 0)
      this.deps.logger.warn(
        { sandbox: sandbox.name, stderr: r.stderr.slice(0, 300) },
        'package cache: Maven settings not written',
      );
  }

  async adopt(sandbox: RunningSandbox): Promise<void> {
    if (!this.cache) return;
    const state = await readFile(this.stateFile(sandbox.id), 'utf8')
      .then((t) => PortState.parse(JSON.parse(t)))
      .catch((err: unknown) => {
        this.deps.logger.warn({ sandbox: sandbox.name, err: messageOf(err) }, 'no package cache port saved');
        return undefined;
      });
    // Without its old port the sandbox's environment points nowhere: it gets no cache until it restarts.
    if (state) await this.cache.openFor(sandbox.id, sandbox.name, state.port);
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    await this.cache?.closeFor(ctx.id);
    await rm(this.stateFile(ctx.id), { force: true });
  }

  async close(): Promise<void> {
    await this.cache?.close();
  }

  private stateFile(id: string): string {
    return path.join(this.stateDir, `${id}.json`);
  }
}
