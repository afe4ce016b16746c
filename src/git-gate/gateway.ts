import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock, Logger } from '../shared/index.js';
import { isAiboxError, messageOf } from '../shared/index.js';
import type { GitAuditEvent, GitAuditSink } from './audit.js';
import { runHttpBackend } from './cgi-process.js';
import { REPO_NAME_PATTERN } from './config.js';
import { gitGateErrors } from './errors.js';
import { UPDATE_HOOK_JS, updateHookShim } from './hook-script.js';
import type { MirrorStore } from './mirror.js';
import { repoAccess, type GitPolicy, type RefDecider } from './policy.js';
import type { PushGate } from './pushes.js';

export interface GatewaySandbox {
  readonly sandboxId: string;
  readonly sandbox: string;
  /**
   * The sandbox's own secret: every request must carry `Authorization: Bearer <key>` (its git gets the header from
   * `gatewayAuthConfig`). Kept in the daemon's state, never in the workspace, never logged.
   */
  readonly key: string;
  /** Read on every request, so a policy change applies without restarting the sandbox. */
  readonly policy: () => GitPolicy;
  /** The policy layer's per-ref decision (the Rego push door): push decisions come from it. */
  readonly decide: RefDecider;
  /** A port to listen on (re-adopting a sandbox after a daemon restart keeps its URL); 0 or absent: any free port. */
  readonly port?: number;
}

export interface GatewayListener {
  readonly sandboxId: string;
  readonly port: number;
  /** Base URL from the host: http://127.0.0.1:PORT */
  readonly hostUrl: string;
}

export interface GitGatewayOptions {
  /** Folder for the gateway's own files: hooks/, the hook socket. */
  readonly dir: string;
  readonly bindHost: string;
  readonly mirrors: MirrorStore;
  readonly pushes: PushGate;
  readonly audit: GitAuditSink;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly gitBinary?: string;
  /** The node binary that runs the update hook (default: the daemon's own). */
  readonly nodeBinary?: string;
}

interface PushSession {
  readonly sandboxId: string;
  readonly sandbox: string;
  readonly repo: string;
  readonly policy: GitPolicy;
  readonly decide: RefDecider;
  readonly mirrorDir: string;
}

const SERVICES = new Set(['git-upload-pack', 'git-receive-pack']);

/** A fresh per-sandbox gateway key (256 bits, hex). */
export function newGatewayKey(): string {
  return randomBytes(32).toString('hex');
}

/** The git configuration that makes a sandbox's git send its key to its gateway (and nowhere else). */
export function gatewayAuthConfig(gatewayUrl: string, key: string): Record<string, string> {
  return { [`http.${gatewayUrl.replace(/\/+$/, '')}/.extraHeader`]: `Authorization: Bearer ${key}` };
}

/** Constant-time check of an Authorization header against the key (hashing first makes the lengths equal). */
function keyMatches(header: string | undefined, key: string): boolean {
  const m = /^Bearer ([0-9A-Za-z._~+/=-]{1,512})$/.exec(header ?? '');
  const digest = (v: string) => createHash('sha256').update(v).digest();
  const given = digest(m?.[1] ?? '');
  return timingSafeEqual(given, digest(key)) && m !== null && key.length >= 32;
}

/**
 * The host side of `git` for sandboxes: one loopback HTTP listener per sandbox (the port is its identity, and the
 * sandbox's egress rules allow only its own port), speaking smart HTTP through real `git http-backend` over the
 * mirrors. Clone/fetch/push are allowed per repository by policy; every pushed ref is decided by the PushGate through
 * the mirrors' update hook, which calls back over a unix socket only the daemon can reach.
 */
export class GitGateway {
  private readonly listeners = new Map<string, { server: http.Server; info: GatewayListener }>();
  private readonly sessions = new Map<string, PushSession>();
  private hookServer: http.Server | undefined;

  constructor(private readonly opts: GitGatewayOptions) {}

  get hooksDir(): string {
    return path.join(this.opts.dir, 'hooks');
  }

  get hookSocket(): string {
    return path.join(this.opts.dir, 'hook.sock');
  }

  /** Writes the hooks and opens the hook socket. Fails closed: a gateway that cannot gate pushes does not start. */
  async start(): Promise<void> {
    if (this.hookServer) return;
    await mkdir(this.hooksDir, { recursive: true, mode: 0o700 });
    const script = path.join(this.hooksDir, 'update.mjs');
    await writeFile(script, UPDATE_HOOK_JS, { mode: 0o600 });
    const shim = path.join(this.hooksDir, 'update');
    await writeFile(shim, updateHookShim(this.opts.nodeBinary ?? process.execPath, script), { mode: 0o700 });
    await chmod(shim, 0o700);
    await rm(this.hookSocket, { force: true });
    const server = http.createServer((req, res) => void this.onHook(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          gitGateErrors.create('GIT_GATEWAY_START_FAILED', `hook socket ${this.hookSocket}: ${err.message}`),
        ),
      );
      server.listen(this.hookSocket, () => resolve());
    });
    await chmod(this.hookSocket, 0o600);
    this.hookServer = server;
  }

  async close(): Promise<void> {
    for (const id of [...this.listeners.keys()]) await this.closeFor(id);
    const s = this.hookServer;
    this.hookServer = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    await rm(this.hookSocket, { force: true });
  }

  listener(sandboxId: string): GatewayListener | undefined {
    return this.listeners.get(sandboxId)?.info;
  }

  /** Opens (or returns) the listener of one sandbox. */
  async openFor(sb: GatewaySandbox): Promise<GatewayListener> {
    const existing = this.listeners.get(sb.sandboxId);
    if (existing) return existing.info;
    await this.start();
    const server = http.createServer((req, res) => void this.onRequest(sb, req, res));
    server.requestTimeout = 0;
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          gitGateErrors.create(
            'GIT_GATEWAY_START_FAILED',
            `git gateway for ${sb.sandbox} cannot listen on ${this.opts.bindHost}:${sb.port ?? 0}: ${err.message}`,
          ),
        ),
      );
      server.listen(sb.port ?? 0, this.opts.bindHost, () => resolve((server.address() as AddressInfo).port));
    });
    const info: GatewayListener = {
      sandboxId: sb.sandboxId,
      port,
      hostUrl: `http://${this.opts.bindHost}:${port}`,
    };
    this.listeners.set(sb.sandboxId, { server, info });
    this.opts.logger.info({ sandbox: sb.sandbox, port }, 'git gateway listening');
    return info;
  }

  async closeFor(sandboxId: string): Promise<void> {
    const l = this.listeners.get(sandboxId);
    if (!l) return;
    this.listeners.delete(sandboxId);
    l.server.closeAllConnections();
    await new Promise<void>((resolve) => l.server.close(() => resolve()));
  }

  private async audit(e: Omit<GitAuditEvent, 'at'>): Promise<void> {
    await this.opts.audit.record({ at: new Date(this.opts.clock.now()).toISOString(), ...e });
  }

  private async onRequest(sb: GatewaySandbox, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.serve(sb, req, res);
    } catch (err) {
      const status = isAiboxError(err) ? err.status : 500;
      const text = isAiboxError(err)
        ? `${err.code}: ${err.message}\n${err.hint}`
        : 'internal error of the git gateway';
      if (!isAiboxError(err)) this.opts.logger.error({ err: messageOf(err) }, 'git gateway request failed');
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`aibox: ${text}\n`);
      } else res.destroy();
    }
  }

  private async serve(sb: GatewaySandbox, req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The port is not an identity: any local user can reach a loopback port. Nothing is said before the key matches.
    if (!keyMatches(req.headers.authorization, sb.key)) {
      await this.audit({
        type: 'git.auth.denied',
        sandbox: sb.sandbox,
        detail: `${req.method ?? 'GET'} from ${req.socket.remoteAddress ?? 'unknown'} without this sandbox's key`,
      });
      throw gitGateErrors.create('GIT_GATEWAY_UNAUTHORIZED', 'this git gateway serves only its own sandbox');
    }
    const url = new URL(req.url ?? '/', 'http://gateway');
    const m = /^\/(.+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/.exec(url.pathname);
    if (!m?.[1] || !m[2]) {
      // Only git's smart protocol: the dumb protocol would serve raw files, hidden refs included.
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('aibox: the git gateway serves only /<repo>.git over git smart HTTP\n');
      return;
    }
    const [, repo, endpoint] = m;
    const service = endpoint === 'info/refs' ? (url.searchParams.get('service') ?? '') : endpoint;
    if (!SERVICES.has(service)) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(
        'aibox: only smart HTTP (git-upload-pack, git-receive-pack) is served; use git 1.6.6 or later\n',
      );
      return;
    }
    if (!REPO_NAME_PATTERN.test(repo) || repo.split('/').includes('..')) {
      throw gitGateErrors.create('GIT_INVALID_REPO_NAME', `invalid repository name ${repo}`);
    }
    const policy = sb.policy();
    const access = repoAccess(policy, repo);
    const push = service === 'git-receive-pack';
    if (!this.opts.mirrors.has(repo) || !access.fetch || (push && !access.push)) {
      await this.audit({
        type: 'git.fetch.denied',
        sandbox: sb.sandbox,
        repo,
        detail: push ? 'push' : 'fetch',
      });
      if (!this.opts.mirrors.has(repo) && access.fetch) {
        throw gitGateErrors.create(
          'GIT_REPO_NOT_CONFIGURED',
          `repository ${repo} is not configured on this host`,
        );
      }
      throw gitGateErrors.create(
        'GIT_REPO_NOT_ALLOWED',
        `policy does not allow sandbox ${sb.sandbox} to ${push ? 'push to' : 'fetch'} ${repo}`,
      );
    }
    let mirrorDir: string;
    if (endpoint === 'info/refs') {
      // The advertisement is what the client negotiates against: make it the upstream's current state.
      mirrorDir = await this.opts.mirrors.refresh(repo);
      if (!push) await this.audit({ type: 'git.fetch', sandbox: sb.sandbox, repo });
    } else mirrorDir = await this.opts.mirrors.ensure(repo);

    const env: Record<string, string> = {};
    let token: string | undefined;
    if (push && endpoint !== 'info/refs') {
      token = randomBytes(24).toString('hex');
      this.sessions.set(token, {
        sandboxId: sb.sandboxId,
        sandbox: sb.sandbox,
        repo,
        policy,
        mirrorDir,
        decide: sb.decide,
      });
      env.AIBOX_GATE_TOKEN = token;
      env.AIBOX_GATE_SOCKET = this.hookSocket;
    }
    try {
      await runHttpBackend(
        req,
        res,
        {
          projectRoot: this.opts.mirrors.root,
          pathInfo: `/${repo}.git/${endpoint}`,
          query: url.search.replace(/^\?/, ''),
          remoteUser: sb.sandbox,
          env,
          ...(this.opts.gitBinary ? { gitBinary: this.opts.gitBinary } : {}),
        },
        this.opts.logger,
      );
    } finally {
      if (token) this.sessions.delete(token);
    }
  }

  /** The update hook's call: one pushed ref of a running receive-pack session. */
  private async onHook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (accept: boolean, message: string[]) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accept, message }));
    };
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      const session = typeof body.token === 'string' ? this.sessions.get(body.token) : undefined;
      const ref = typeof body.ref === 'string' ? body.ref : '';
      const oldSha = typeof body.oldSha === 'string' ? body.oldSha : '';
      const newSha = typeof body.newSha === 'string' ? body.newSha : '';
      if (
        !session ||
        !/^refs\//.test(ref) ||
        !/^[0-9a-f]{40}$/.test(oldSha) ||
        !/^[0-9a-f]{40}$/.test(newSha)
      ) {
        reply(false, ['push refused: unknown push session.']);
        return;
      }
      const objectEnv = await this.quarantineEnv(session.mirrorDir, body);
      const verdict = await this.opts.pushes.onRefUpdate(
        {
          sandboxId: session.sandboxId,
          sandbox: session.sandbox,
          repo: session.repo,
          policy: session.policy,
          decide: session.decide,
        },
        { ref, oldSha, newSha, ...(objectEnv ? { objectEnv } : {}) },
      );
      reply(verdict.accept, verdict.message);
    } catch (err) {
      this.opts.logger.error({ err: messageOf(err) }, 'push decision failed');
      reply(false, [
        `push refused: ${isAiboxError(err) ? `${err.code}: ${err.message}` : 'the gateway failed to decide'}.`,
      ]);
    }
  }

  /** The quarantine object directory, accepted only if it lies inside the session's own mirror. */
  private async quarantineEnv(
    mirrorDir: string,
    body: Record<string, unknown>,
  ): Promise<Record<string, string> | undefined> {
    const dir = body.objectDirectory;
    if (typeof dir !== 'string' || dir === '') return undefined;
    const objects = await realpath(path.join(mirrorDir, 'objects'));
    const real = await realpath(dir);
    if (!real.startsWith(`${objects}${path.sep}`)) {
      throw gitGateErrors.create('GIT_INVALID_REPO_NAME', 'push quarantine outside the mirror');
    }
    return { GIT_OBJECT_DIRECTORY: real, GIT_ALTERNATE_OBJECT_DIRECTORIES: objects };
  }
}
