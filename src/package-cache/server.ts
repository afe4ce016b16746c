import nodePath from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { isAiboxError, messageOf, type Logger } from '../shared/index.js';
import type { PackageCacheConfig } from './config.js';
import { packageCacheErrors } from './errors.js';
import { DEBIAN_PREFIX, DebianRegistry } from './debian.js';
import { GO_PREFIX, GoRegistry } from './go.js';
import { MAVEN_PREFIX, MavenRegistry } from './maven.js';
import { NpmRegistry, type CacheAnswer } from './npm.js';
import { PypiRegistry } from './pypi.js';
import { ContentStore } from './store.js';
import { nodeFetch, type RegistryDeps, type UpstreamFetch } from './upstream.js';

/** The egress door, asked for the sandbox behind a listener: may it reach this registry's host? */
export type EgressDoor = (
  sandbox: string,
  request: { host: string; port: number; method: string },
) => Promise<{ id: string; outcome: 'allow' | 'approve' | 'deny'; reason: string }>;

export interface PackageCacheOptions {
  config: PackageCacheConfig;
  /** Where the store lives (config.dir or the daemon's default). */
  dir: string;
  door: EgressDoor;
  logger: Logger;
  upstream?: UpstreamFetch;
  now?: () => number;
}

const PYPI_SIMPLE = '/-/pypi/simple/';
const PYPI_FILES = '/-/pypi/files/';

/** An allow decision is reused this long per sandbox and registry (each decision is an audit record). */
const DECISION_TTL_MS = 30_000;

interface Listener {
  server: Server;
  port: number;
  sandbox: string;
}

/**
 * The shared package cache: one content store and one upstream client for the whole host, one loopback listener
 * per sandbox (its port is how the cache knows who asks: the sandbox's nftables rules open only its own port).
 * Every request passes the sandbox's egress door for the registry's host, cache hit or not: a sandbox whose policy
 * refuses the registry gets no packages from it, from the cache either.
 */
export class PackageCache {
  readonly store: ContentStore;
  private readonly npm: NpmRegistry;
  private readonly pypi: PypiRegistry;
  private readonly maven: MavenRegistry;
  private readonly go: GoRegistry;
  private readonly debian: DebianRegistry;
  private readonly listeners = new Map<string, Listener>();
  private readonly allowed = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly o: PackageCacheOptions) {
    this.now = o.now ?? Date.now;
    const maxFileBytes = o.config.maxFileMiB * 1024 * 1024;
    this.store = new ContentStore({
      dir: o.dir,
      maxBytes: o.config.maxMiB * 1024 * 1024,
      maxFileBytes,
      logger: o.logger,
      now: this.now,
    });
    const deps: RegistryDeps = {
      store: this.store,
      upstream: o.upstream ?? nodeFetch,
      metadataTtlMs: o.config.metadataTtlSeconds * 1000,
      maxFileBytes,
      logger: o.logger,
      now: this.now,
    };
    this.npm = new NpmRegistry({ ...deps, config: o.config.npm });
    this.pypi = new PypiRegistry({ ...deps, config: o.config.pypi });
    this.maven = new MavenRegistry({ ...deps, config: o.config.maven });
    this.go = new GoRegistry({ ...deps, config: o.config.go });
    this.debian = new DebianRegistry({
      ...deps,
      config: o.config.debian,
      tmpDir: nodePath.join(o.dir, 'tmp'),
    });
  }

  async init(): Promise<void> {
    await this.store.init();
  }

  /** The URL a sandbox's package managers use (as seen from inside it). */
  urlOf(port: number): string {
    return `http://${this.o.config.sandboxHost}:${port}`;
  }

  /** Environment pointing a sandbox's package managers at its endpoint (no secret: the port is the identity). */
  envFor(port: number): Record<string, string> {
    const env: Record<string, string> = { AIBOX_PACKAGE_CACHE: this.urlOf(port) };
    if (this.o.config.npm.enabled) {
      env['npm_config_registry'] = `${this.urlOf(port)}/`;
      // Lockfiles name the registry they were made against: their tarballs come through the cache too.
      env['npm_config_replace_registry_host'] = 'always';
    }
    if (this.o.config.pypi.enabled) {
      env['PIP_INDEX_URL'] = `${this.urlOf(port)}${PYPI_SIMPLE}`;
      // Plain http on the host's loopback: pip wants it named (the bytes are verified by sha256 either way).
      env['PIP_TRUSTED_HOST'] = this.o.config.sandboxHost;
    }
    if (this.o.config.go.enabled) {
      // No ",direct": a module the cache refuses is not fetched around it. GOSUMDB stays the go command's default,
      // so it checks every download against the checksum database itself (through this endpoint's sumdb/).
      env['GOPROXY'] = `${this.urlOf(port)}${GO_PREFIX.slice(0, -1)}`;
    }
    if (this.o.config.debian.enabled) {
      // apt takes no mirror from the environment: for a sources.list line (deb <this> bookworm main).
      env['AIBOX_DEBIAN_MIRROR'] = `${this.urlOf(port)}${DEBIAN_PREFIX.slice(0, -1)}`;
    }
    return env;
  }

  /**
   * Opens the sandbox's listener (on `port` when re-adopting), closing any older one of the same sandbox. `door`:
   * decides this listener's requests instead of the policy's egress door (a pack builder, whose allowlist the daemon
   * decides itself).
   */
  async openFor(sandboxId: string, sandbox: string, port?: number, door?: EgressDoor): Promise<number> {
    await this.closeFor(sandboxId);
    const server = createServer((req, res) => void this.serve(sandbox, req, res, door ?? this.o.door));
    server.headersTimeout = 30_000;
    server.requestTimeout = 10 * 60_000;
    try {
      const bound = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port ?? 0, this.o.config.bindHost, () =>
          resolve((server.address() as AddressInfo).port),
        );
      });
      this.listeners.set(sandboxId, { server, port: bound, sandbox });
      return bound;
    } catch (err) {
      throw packageCacheErrors.create(
        'PACKAGE_CACHE_START_FAILED',
        `the package cache cannot listen for sandbox ${sandbox}: ${messageOf(err)}`,
      );
    }
  }

  async closeFor(sandboxId: string): Promise<void> {
    const l = this.listeners.get(sandboxId);
    if (!l) return;
    this.listeners.delete(sandboxId);
    for (const key of this.allowed.keys()) if (key.startsWith(`${l.sandbox}\0`)) this.allowed.delete(key);
    await new Promise<void>((resolve) => {
      l.server.close(() => resolve());
      l.server.closeAllConnections();
    });
  }

  /** A policy change for a sandbox: its next request asks the door again. */
  forgetDecisions(sandbox: string): void {
    for (const key of this.allowed.keys()) if (key.startsWith(`${sandbox}\0`)) this.allowed.delete(key);
  }

  async close(): Promise<void> {
    for (const id of [...this.listeners.keys()]) await this.closeFor(id);
  }

  private async serve(
    sandbox: string,
    req: IncomingMessage,
    res: ServerResponse,
    door: EgressDoor,
  ): Promise<void> {
    const started = this.now();
    const admit = (registry: string, upstream: string, policyHost?: string) =>
      this.admit(sandbox, registry, upstream, policyHost, door);
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_READ_ONLY',
          `${req.method} is not accepted: the package cache is read-only`,
        );
      }
      const path = (req.url ?? '/').replace(/[?#].*$/, '');
      const port = req.socket.localPort ?? 0;
      let answer: CacheAnswer;
      // npm at the root: npm swaps the origin of every tarball URL for its registry's (replace-registry-host),
      // so a registry under a path would be doubled. npm's own API (/-/…) is not served.
      if (!path.startsWith('/-/') && path !== '/' && this.o.config.npm.enabled) {
        await admit('npm', this.o.config.npm.upstream, this.o.config.npm.policyHost);
        answer = await this.npm.handle(path.slice(1), String(req.headers.accept ?? ''), this.urlOf(port));
      } else if (path.startsWith(MAVEN_PREFIX) && this.o.config.maven.enabled) {
        await admit('maven', this.o.config.maven.upstream, this.o.config.maven.policyHost);
        answer = await this.maven.handle(path.slice(MAVEN_PREFIX.length));
      } else if (path.startsWith(GO_PREFIX) && this.o.config.go.enabled) {
        const rest = path.slice(GO_PREFIX.length);
        const { go } = this.o.config;
        // The checksum database is its own host: the sandbox's policy must allow it too.
        if (rest.startsWith('sumdb/')) await admit('go-sumdb', go.sumdb, go.sumdbPolicyHost);
        else await admit('go', go.upstream, go.policyHost);
        answer = await this.go.handle(rest);
      } else if (path.startsWith(DEBIAN_PREFIX) && this.o.config.debian.enabled) {
        const { upstream, policyHost } = this.o.config.debian;
        await admit('debian', upstream, policyHost);
        answer = await this.debian.handle(path.slice(DEBIAN_PREFIX.length));
      } else if (path.startsWith(PYPI_SIMPLE) && this.o.config.pypi.enabled) {
        const { upstream, policyHost } = this.o.config.pypi;
        await admit('pypi', upstream, policyHost);
        answer = await this.pypi.page(
          path.slice(PYPI_SIMPLE.length),
          String(req.headers.accept ?? ''),
          `${this.urlOf(port)}${PYPI_FILES.slice(0, -1)}`,
        );
      } else if (path.startsWith(PYPI_FILES) && this.o.config.pypi.enabled) {
        // Files come from their own host: the sandbox's policy must allow that one too.
        await admit('pypi-files', this.o.config.pypi.files, this.o.config.pypi.filesPolicyHost);
        answer = await this.pypi.file(path.slice(PYPI_FILES.length));
      } else {
        throw packageCacheErrors.create(
          'PACKAGE_CACHE_NOT_FOUND',
          `nothing is served at ${path.slice(0, 200)}`,
        );
      }
      res.statusCode = answer.status;
      res.setHeader('content-type', answer.type);
      if ('body' in answer) {
        res.setHeader('content-length', answer.body.length);
        res.end(req.method === 'HEAD' ? undefined : answer.body);
      } else {
        res.setHeader('content-length', answer.size);
        if (req.method === 'HEAD') {
          answer.stream.destroy();
          res.end();
        } else {
          // pipeline: a client that goes away closes the file too.
          pipeline(answer.stream, res, () => undefined);
        }
      }
    } catch (err) {
      const e = isAiboxError(err)
        ? err
        : packageCacheErrors.create(
            'PACKAGE_CACHE_UPSTREAM_FAILED',
            `the package cache failed: ${messageOf(err)}`,
          );
      if (!isAiboxError(err))
        this.o.logger.error({ sandbox, err: messageOf(err) }, 'package cache request failed');
      else if (e.status >= 500 || e.status === 403)
        this.o.logger.warn({ sandbox, code: e.code, msg: e.message }, 'package cache refused a request');
      if (!res.headersSent) {
        const body = JSON.stringify({
          error: `${e.code}: ${e.message}`,
          code: e.code,
          hint: e.hint,
          ...(e.details ?? {}),
        });
        res.writeHead(e.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      } else res.destroy();
    } finally {
      this.o.logger.debug({ sandbox, url: req.url, ms: this.now() - started }, 'package cache request');
    }
  }

  /** The sandbox's egress door for the registry's host (what it would ask if it fetched the registry itself). */
  private async admit(
    sandbox: string,
    registry: string,
    upstream: string,
    policyHost: string | undefined,
    door: EgressDoor,
  ): Promise<void> {
    const key = `${sandbox}\0${registry}`;
    if ((this.allowed.get(key) ?? 0) > this.now()) return;
    const url = new URL(upstream);
    // A mirror standing in for a public registry is decided as that registry over https.
    const host = policyHost ?? url.hostname;
    const port = policyHost ? 443 : Number(url.port) || (url.protocol === 'http:' ? 80 : 443);
    const d = await door(sandbox, { host, port, method: 'GET' });
    if (d.outcome === 'deny') {
      throw packageCacheErrors.create(
        'PACKAGE_CACHE_EGRESS_DENIED',
        `the egress policy of sandbox "${sandbox}" does not allow ${host}:${port} (${d.reason}); decision ${d.id}: aibox policy explain --log-entry ${d.id}`,
        { decision: d.id, door: 'egress', host, port },
      );
    }
    this.allowed.set(key, this.now() + DECISION_TTL_MS);
  }
}
