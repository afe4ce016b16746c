import NodeVault from 'node-vault';
import { z } from 'zod';
import { isAiboxError, type AiboxError, type Clock, type Logger } from '../shared/index.js';
import { SECRET_NAME_PATTERN, type CredentialKind, type CredentialTtls, type VaultConfig } from './config.js';
import { credentialErrors } from './errors.js';
import type { SecretRedactor } from './redact.js';
import { SecretValue } from './secret-value.js';
import type { Credential, CredentialProvider, GetCredentialOptions } from './types.js';

/** Vault auth with its secret material already read from the files the config names. */
export type ResolvedVaultAuth =
  | { method: 'token'; token: SecretValue }
  | { method: 'approle'; roleId: string; secretId: SecretValue; mount: string };

export interface VaultProviderOptions {
  config: VaultConfig;
  auth: ResolvedVaultAuth;
  /** PEM CA bundle for Vault's TLS certificate (TLS is verified either way). */
  ca?: string;
  ttl: CredentialTtls;
  kinds: Record<string, CredentialKind>;
  logger: Logger;
  clock: Clock;
  redactor: SecretRedactor;
}

interface TokenState {
  /** null: the token never expires (root or periodic without TTL). */
  expiresAt: number | null;
  renewAt: number | null;
  renewable: boolean;
}

interface CacheEntry {
  cred: Credential;
  refreshAt: number;
  leaseId: string | undefined;
  leaseRenewable: boolean;
}

// The parts of Vault's responses we rely on (https://developer.hashicorp.com/vault/api-docs).
const AuthBlock = z.object({
  client_token: z.string(),
  lease_duration: z.number(),
  renewable: z.boolean().default(false),
});
const LoginResponse = z.object({ auth: AuthBlock });
const LookupSelfResponse = z.object({
  data: z.object({ ttl: z.number(), renewable: z.boolean().default(false) }),
});
const SecretResponse = z.object({
  lease_id: z.string().default(''),
  lease_duration: z.number().default(0),
  renewable: z.boolean().default(false),
  data: z.record(z.string(), z.unknown()).nullable().default(null),
});
const LeaseRenewResponse = z.object({
  lease_id: z.string(),
  lease_duration: z.number(),
  renewable: z.boolean(),
});

/**
 * Credentials from HashiCorp Vault through node-vault: token or AppRole login, renew-self before the token expires,
 * KV v2 reads (and plain logical reads for leased/dynamic secrets), a cache refreshed at `refreshFraction` of each
 * TTL. While Vault is unreachable, cached values keep working until their own expiry and then fail closed with
 * CREDENTIAL_UNAVAILABLE; the next successful refresh resumes normal service. Time comes from the injected Clock:
 * `tick()` does the due work, `start()` merely calls it on an interval.
 */
export class VaultCredentialProvider implements CredentialProvider {
  readonly backend = 'vault' as const;
  readonly #o: VaultProviderOptions;
  readonly #client: NodeVault.client;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<Credential>>();
  #token: TokenState | undefined;
  #authInflight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: VaultProviderOptions) {
    this.#o = options;
    const { config } = options;
    this.#client = NodeVault({
      endpoint: config.address,
      ...(config.namespace ? { namespace: config.namespace } : {}),
      // node-vault's debug output would print request bodies (the AppRole secret_id): silence it.
      debug: () => undefined,
      requestOptions: { timeout: config.requestTimeout, ...(options.ca ? { ca: options.ca } : {}) },
    });
    if (options.auth.method === 'token') {
      this.#client.token = options.auth.token.reveal();
      options.redactor.add(options.auth.token.reveal());
    } else {
      options.redactor.add(options.auth.secretId.reveal());
    }
  }

  /** Starts the renewal loop (tokens and cached credentials); the timer does not keep the process alive. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.config.checkInterval);
    this.#timer.unref();
  }

  close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  async get(name: string, options: GetCredentialOptions = {}): Promise<Credential> {
    if (!SECRET_NAME_PATTERN.test(name)) {
      throw credentialErrors.create(
        'CREDENTIAL_NAME_INVALID',
        `invalid secret name ${JSON.stringify(name.slice(0, 140))}`,
      );
    }
    const now = this.#o.clock.now();
    const cached = this.#cache.get(name);
    if (cached && now < cached.cred.expiresAt) {
      if (now >= cached.refreshAt) void this.#refreshQuietly(name);
      return cached.cred;
    }
    if (cached) this.#cache.delete(name);
    return this.#fetchShared(name, this.#kindOf(name, options.kind));
  }

  /** Does the due work: renew the token, refresh credentials past their refresh point. Never throws. */
  async tick(): Promise<void> {
    await this.#renewTokenIfDue();
    const now = this.#o.clock.now();
    const due = [...this.#cache.entries()].filter(([, e]) => now >= e.refreshAt).map(([name]) => name);
    await Promise.all(due.map((name) => this.#refreshQuietly(name)));
  }

  /** For `aibox doctor`-style reports: whether a usable token is held, without revealing it. */
  get tokenState(): Readonly<TokenState> | undefined {
    return this.#token ? { ...this.#token } : undefined;
  }

  #kindOf(name: string, kind: CredentialKind | undefined): CredentialKind {
    return kind ?? this.#o.config.secrets[name]?.kind ?? this.#o.kinds[name] ?? 'generic';
  }

  #fetchShared(name: string, kind: CredentialKind): Promise<Credential> {
    const running = this.#inflight.get(name);
    if (running) return running;
    const p = this.#fetch(name, kind).finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, p);
    return p;
  }

  async #fetch(name: string, kind: CredentialKind): Promise<Credential> {
    const { config } = this.#o;
    const mapping = config.secrets[name];
    const engine = mapping?.engine ?? 'kv2';
    const rel = mapping?.path ?? `${config.pathPrefix}${name}`;
    const path = engine === 'kv2' ? `${config.kvMount}/data/${rel}` : rel;
    const field = mapping?.field ?? config.field;

    const body = parseVault(
      SecretResponse,
      await this.#authenticated(name, () => this.#client.read(path)),
      name,
    );
    const data =
      engine === 'kv2' ? (body.data?.['data'] as Record<string, unknown> | null | undefined) : body.data;
    const raw = data?.[field];
    if (typeof raw !== 'string' || raw.length === 0) {
      throw credentialErrors.create('CREDENTIAL_NOT_FOUND', `Vault secret ${name} has no field "${field}"`, {
        name,
        field,
      });
    }
    this.#o.redactor.add(raw);
    const now = this.#o.clock.now();
    const ttl = body.lease_duration > 0 ? body.lease_duration * 1_000 : this.#o.ttl[kind];
    const cred: Credential = {
      name,
      kind,
      value: new SecretValue(raw),
      expiresAt: now + ttl,
      source: 'vault',
    };
    this.#cache.set(name, {
      cred,
      refreshAt: now + ttl * config.refreshFraction,
      leaseId: body.lease_id || undefined,
      leaseRenewable: body.renewable,
    });
    this.#o.logger.debug(
      { secret: name, ttlSeconds: Math.round(ttl / 1_000) },
      'credential fetched from Vault',
    );
    return cred;
  }

  async #refreshQuietly(name: string): Promise<void> {
    const entry = this.#cache.get(name);
    if (!entry) return;
    try {
      if (entry.leaseId && entry.leaseRenewable) await this.#renewLease(name, entry);
      else await this.#fetchShared(name, entry.cred.kind);
    } catch (err) {
      if (credentialErrors.is(err, 'CREDENTIAL_NOT_FOUND')) {
        // Deleted or revoked in Vault: stop serving the cached copy.
        this.#cache.delete(name);
        this.#o.logger.warn({ secret: name }, 'credential no longer in Vault; cached copy dropped');
        return;
      }
      this.#o.logger.warn(
        { secret: name, reason: reasonOf(err), validUntil: new Date(entry.cred.expiresAt).toISOString() },
        'credential refresh failed; cached value used until it expires',
      );
    }
  }

  async #renewLease(name: string, entry: CacheEntry): Promise<void> {
    const leaseId = entry.leaseId ?? '';
    const res = parseVault(
      LeaseRenewResponse,
      await this.#authenticated(name, () => this.#client.renew({ lease_id: leaseId })),
      name,
    );
    const now = this.#o.clock.now();
    const ttl = res.lease_duration * 1_000;
    this.#cache.set(name, {
      cred: { ...entry.cred, expiresAt: now + ttl },
      refreshAt: now + ttl * this.#o.config.refreshFraction,
      leaseId: res.lease_id,
      leaseRenewable: res.renewable,
    });
  }

  /** Runs a Vault call with a valid token; after a 403 with AppRole, logs in again once and retries. */
  async #authenticated(name: string, call: () => Promise<unknown>): Promise<unknown> {
    await this.#ensureToken();
    try {
      return await call();
    } catch (err) {
      if (statusOf(err) === 403 && this.#o.auth.method === 'approle') {
        this.#token = undefined;
        await this.#ensureToken();
        try {
          return await call();
        } catch (again) {
          throw this.#toError(again, name);
        }
      }
      throw this.#toError(err, name);
    }
  }

  async #ensureToken(): Promise<void> {
    const t = this.#token;
    const now = this.#o.clock.now();
    if (t && (t.expiresAt === null || now < t.expiresAt)) {
      if (t.renewAt !== null && now >= t.renewAt) await this.#renewTokenIfDue();
      return;
    }
    this.#authInflight ??= this.#authenticate().finally(() => (this.#authInflight = undefined));
    await this.#authInflight;
  }

  async #authenticate(): Promise<void> {
    const { auth } = this.#o;
    try {
      if (auth.method === 'approle') {
        const res = parseVault(
          LoginResponse,
          await this.#client.approleLogin({
            mount_point: auth.mount,
            role_id: auth.roleId,
            secret_id: auth.secretId.reveal(),
          }),
          undefined,
        );
        this.#o.redactor.add(res.auth.client_token);
        this.#client.token = res.auth.client_token;
        this.#setToken(res.auth.lease_duration, res.auth.renewable);
        this.#o.logger.info({ ttlSeconds: res.auth.lease_duration }, 'logged in to Vault with AppRole');
      } else {
        const res = parseVault(LookupSelfResponse, await this.#client.tokenLookupSelf(), undefined);
        this.#setToken(res.data.ttl, res.data.renewable);
      }
    } catch (err) {
      throw this.#toError(err, undefined);
    }
  }

  #setToken(ttlSeconds: number, renewable: boolean): void {
    const now = this.#o.clock.now();
    if (ttlSeconds <= 0) {
      this.#token = { expiresAt: null, renewAt: null, renewable: false };
      return;
    }
    const ttl = ttlSeconds * 1_000;
    this.#token = {
      expiresAt: now + ttl,
      renewAt: renewable ? now + ttl * this.#o.config.refreshFraction : null,
      renewable,
    };
  }

  async #renewTokenIfDue(): Promise<void> {
    const t = this.#token;
    const now = this.#o.clock.now();
    if (!t || !t.renewable || t.renewAt === null || now < t.renewAt) return;
    try {
      const res = parseVault(LoginResponse, await this.#client.tokenRenewSelf(), undefined);
      this.#o.redactor.add(res.auth.client_token);
      this.#setToken(res.auth.lease_duration, res.auth.renewable);
      this.#o.logger.debug({ ttlSeconds: res.auth.lease_duration }, 'Vault token renewed');
    } catch (err) {
      const status = statusOf(err);
      // Refused (expired, revoked, past max TTL): forget it so the next use logs in again (AppRole) or fails.
      if (status !== undefined && status >= 400 && status < 500) this.#token = undefined;
      this.#o.logger.warn({ reason: reasonOf(err) }, 'Vault token renewal failed');
    }
  }

  /** Maps node-vault/axios errors to our codes. Never keeps the original error: axios errors carry the token header. */
  #toError(err: unknown, name: string | undefined): AiboxError {
    if (isAiboxError(err)) return err;
    const status = statusOf(err);
    const what = name ? `credential ${name}` : 'a Vault token';
    if (status === 404 && name) {
      return credentialErrors.create('CREDENTIAL_NOT_FOUND', `no secret named ${name} in Vault`, { name });
    }
    if ((status === 400 || status === 403) && !name) {
      return credentialErrors.create('VAULT_AUTH_FAILED', `Vault refused the login: ${reasonOf(err)}`);
    }
    return credentialErrors.create(
      'CREDENTIAL_UNAVAILABLE',
      `cannot obtain ${what} from Vault at ${this.#o.config.address}: ${reasonOf(err)}`,
      name ? { name } : undefined,
    );
  }
}

/** Validates a Vault answer; an unexpected shape is a backend fault, reported without echoing the body. */
function parseVault<T>(schema: z.ZodType<T>, body: unknown, name: string | undefined): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw credentialErrors.create(
    'CREDENTIAL_UNAVAILABLE',
    `Vault answered with an unexpected response${name ? ` for credential ${name}` : ''}`,
    name ? { name } : undefined,
  );
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { response?: { statusCode?: unknown } } | undefined)?.response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A short, secret-free reason: the HTTP status and Vault's first error, or the socket error code. */
function reasonOf(err: unknown): string {
  if (isAiboxError(err)) return err.message;
  const status = statusOf(err);
  if (status !== undefined) {
    const body = (err as { response?: { body?: { errors?: unknown } } }).response?.body;
    const first = Array.isArray(body?.errors) && typeof body.errors[0] === 'string' ? body.errors[0] : '';
    return `HTTP ${status}${first ? ` (${first.slice(0, 200)})` : ''}`;
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code === 'ECONNABORTED' ? 'timed out' : code;
  return 'unreachable';
}
