/**
 * TEST STAND-IN, NOT VAULT. HashiCorp Vault cannot be installed on these machines, so this is the thinnest HTTP server
 * that answers the subset of Vault's published HTTP API (https://developer.hashicorp.com/vault/api-docs) that aibox
 * uses, with Vault's request and response shapes:
 *   GET  /v1/sys/health                       (api-docs/system/health)
 *   POST /v1/auth/<approle mount>/login       (api-docs/auth/approle#login-with-approle)
 *   GET  /v1/auth/token/lookup-self           (api-docs/auth/token#lookup-a-token-self)
 *   POST /v1/auth/token/renew-self            (api-docs/auth/token#renew-a-token-self)
 *   GET/POST /v1/<kv mount>/data/<path>       (api-docs/secret/kv/kv-v2#read-secret-version, #create-update-secret)
 *   GET  /v1/<path> of a leased secret        (dynamic secrets: lease_id, lease_duration, renewable)
 *   PUT  /v1/sys/leases/renew                 (api-docs/system/leases#renew-lease)
 * Errors are `{"errors": [...]}` with Vault's statuses (403 permission denied, 404 not found, 400 bad login).
 * Token and lease lifetimes follow an injected clock, so tests can move time. `stop()`/`start()` simulate an outage
 * on the same port. Production code reaches it through node-vault over real HTTP on 127.0.0.1.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/shared/index.js';

interface TokenEntry {
  ttl: number;
  expiresAt: number | null;
  renewable: boolean;
  issuedAt: number;
  policies: string[];
}

export interface FakeVaultRequest {
  method: string;
  path: string;
  at: number;
  hadToken: boolean;
}

export class FakeVault {
  readonly requests: FakeVaultRequest[] = [];
  readonly #clock: Clock;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #approles = new Map<string, { secretId: string; tokenTtl: number; mount: string }>();
  readonly #kv = new Map<string, { data: Record<string, string>; version: number; created: number }>();
  readonly #leased = new Map<
    string,
    { data: Record<string, string>; leaseDuration: number; renewable: boolean }
  >();
  readonly #leases = new Map<string, { expiresAt: number; renewable: boolean }>();
  #server: Server | undefined;
  #port = 0;

  constructor(
    clock: Clock,
    private readonly kvMount = 'secret',
    /** Serve HTTPS with this key and certificate (to test CA verification). */
    private readonly tls?: { key: string; cert: string },
  ) {
    this.#clock = clock;
  }

  get address(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    const server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Simulates an outage: the port stops answering (connection refused) until `start()`. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  addToken(token: string, opts: { ttl: number; renewable?: boolean }): void {
    const now = this.#clock.now();
    this.#tokens.set(token, {
      ttl: opts.ttl,
      expiresAt: opts.ttl > 0 ? now + opts.ttl * 1000 : null,
      renewable: opts.renewable ?? true,
      issuedAt: now,
      policies: ['default', 'aibox'],
    });
  }

  revokeToken(token: string): void {
    this.#tokens.delete(token);
  }

  revokeAllTokens(): void {
    this.#tokens.clear();
  }

  addAppRole(roleId: string, secretId: string, opts: { tokenTtl: number; mount?: string }): void {
    this.#approles.set(roleId, { secretId, tokenTtl: opts.tokenTtl, mount: opts.mount ?? 'approle' });
  }

  putKv(path: string, data: Record<string, string>): void {
    const prev = this.#kv.get(path);
    this.#kv.set(path, { data, version: (prev?.version ?? 0) + 1, created: this.#clock.now() });
  }

  deleteKv(path: string): void {
    this.#kv.delete(path);
  }

  putLeased(
    path: string,
    data: Record<string, string>,
    opts: { leaseDuration: number; renewable?: boolean },
  ): void {
    this.#leased.set(path, { data, leaseDuration: opts.leaseDuration, renewable: opts.renewable ?? true });
  }

  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.path === path).length;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const token = headerOf(req, 'x-vault-token');
    this.requests.push({ method, path, at: this.#clock.now(), hadToken: token !== undefined });
    const body = await readJson(req);
    const now = this.#clock.now();

    if (path === '/v1/sys/health') {
      return send(res, 200, {
        initialized: true,
        sealed: false,
        standby: false,
        performance_standby: false,
        server_time_utc: Math.floor(now / 1000),
        version: '1.15.0+fake',
        cluster_name: 'aibox-test',
      });
    }

    const login = /^\/v1\/auth\/([^/]+)\/login$/.exec(path);
    if (login && method === 'POST' && login[1] !== 'token') {
      const role = this.#approles.get(str(body['role_id']));
      if (!role || role.mount !== login[1] || role.secretId !== body['secret_id']) {
        return send(res, 400, { errors: ['invalid role or secret ID'] });
      }
      const clientToken = `hvs.${randomBytes(18).toString('base64url')}`;
      this.addToken(clientToken, { ttl: role.tokenTtl, renewable: true });
      return send(res, 200, envelope({ auth: this.#authBlock(clientToken) }));
    }

    const entry = token ? this.#tokens.get(token) : undefined;
    if (!token || !entry || (entry.expiresAt !== null && now >= entry.expiresAt)) {
      return send(res, 403, { errors: ['permission denied'] });
    }

    if (path === '/v1/auth/token/lookup-self' && method === 'GET') {
      const ttl = entry.expiresAt === null ? 0 : Math.max(0, Math.floor((entry.expiresAt - now) / 1000));
      return send(
        res,
        200,
        envelope({
          data: {
            accessor: `acc.${token.slice(-6)}`,
            creation_time: Math.floor(entry.issuedAt / 1000),
            creation_ttl: entry.ttl,
            display_name: 'token',
            expire_time: entry.expiresAt === null ? null : new Date(entry.expiresAt).toISOString(),
            explicit_max_ttl: 0,
            id: token,
            issue_time: new Date(entry.issuedAt).toISOString(),
            meta: null,
            num_uses: 0,
            orphan: true,
            path: 'auth/token/create',
            policies: entry.policies,
            renewable: entry.renewable,
            ttl,
            type: 'service',
          },
        }),
      );
    }

    if (path === '/v1/auth/token/renew-self' && (method === 'POST' || method === 'PUT')) {
      if (!entry.renewable) return send(res, 400, { errors: ['lease is not renewable'] });
      const increment = typeof body['increment'] === 'number' ? body['increment'] : entry.ttl;
      entry.ttl = increment;
      entry.expiresAt = now + increment * 1000;
      return send(res, 200, envelope({ auth: this.#authBlock(token) }));
    }

    if (path === '/v1/sys/leases/renew' && (method === 'PUT' || method === 'POST')) {
      const leaseId = str(body['lease_id']);
      const lease = this.#leases.get(leaseId);
      if (!lease || now >= lease.expiresAt) return send(res, 400, { errors: ['lease not found'] });
      if (!lease.renewable) return send(res, 400, { errors: ['lease is not renewable'] });
      const source = this.#leased.get(leaseId.slice(0, leaseId.lastIndexOf('/')));
      const duration =
        typeof body['increment'] === 'number' ? body['increment'] : (source?.leaseDuration ?? 60);
      lease.expiresAt = now + duration * 1000;
      return send(res, 200, {
        ...envelope({}),
        lease_id: leaseId,
        renewable: true,
        lease_duration: duration,
      });
    }

    const kvPrefix = `/v1/${this.kvMount}/data/`;
    if (path.startsWith(kvPrefix)) {
      const key = path.slice(kvPrefix.length);
      if (method === 'GET') {
        const item = this.#kv.get(key);
        if (!item) return send(res, 404, { errors: [] });
        return send(
          res,
          200,
          envelope({
            data: {
              data: item.data,
              metadata: {
                created_time: new Date(item.created).toISOString(),
                custom_metadata: null,
                deletion_time: '',
                destroyed: false,
                version: item.version,
              },
            },
          }),
        );
      }
      if (method === 'POST' || method === 'PUT') {
        const data = (body['data'] ?? {}) as Record<string, string>;
        this.putKv(key, data);
        const item = this.#kv.get(key)!;
        return send(
          res,
          200,
          envelope({
            data: {
              created_time: new Date(item.created).toISOString(),
              custom_metadata: null,
              deletion_time: '',
              destroyed: false,
              version: item.version,
            },
          }),
        );
      }
    }

    const leasedPath = path.slice('/v1/'.length);
    const leased = this.#leased.get(leasedPath);
    if (leased && method === 'GET') {
      const leaseId = `${leasedPath}/${randomUUID()}`;
      this.#leases.set(leaseId, {
        expiresAt: now + leased.leaseDuration * 1000,
        renewable: leased.renewable,
      });
      return send(res, 200, {
        ...envelope({ data: leased.data }),
        lease_id: leaseId,
        lease_duration: leased.leaseDuration,
        renewable: leased.renewable,
      });
    }

    return send(res, 404, { errors: [] });
  }

  #authBlock(token: string): Record<string, unknown> {
    const e = this.#tokens.get(token)!;
    return {
      client_token: token,
      accessor: `acc.${token.slice(-6)}`,
      policies: e.policies,
      token_policies: e.policies,
      metadata: null,
      lease_duration: e.ttl,
      renewable: e.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
    };
  }
}

function envelope(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings: null,
    auth: null,
    ...fields,
  };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
