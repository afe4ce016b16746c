import path from 'node:path';
import { z } from 'zod';
import { CreateTokenRequest, TokenScope, type CreatedToken, type TokenInfo } from '../shared/api/tokens.js';
import { isAiboxError } from '../shared/errors.js';
import { tokenErrors } from './errors.js';
import { issueSecret, parseToken, secretMatches } from './secret.js';
import { readJsonFile, writeJsonAtomic } from '../shared/fs/index.js';

/** Active (neither expired nor revoked) tokens a daemon keeps at most: the file stays small and fast to load. */
export const MAX_ACTIVE_TOKENS = 1000;

const StoredToken = z
  .object({
    id: z.string(),
    name: z.string(),
    scope: TokenScope,
    team: z.string().optional(),
    createdAt: z.string(),
    expiresAt: z.string().optional(),
    revokedAt: z.string().optional(),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
type StoredToken = z.infer<typeof StoredToken>;

const StoreFile = z.object({ version: z.literal(1), tokens: z.array(StoredToken) }).strict();

/** What a request authenticated with a token may act as. */
export interface TokenPrincipal {
  id: string;
  name: string;
  scope: TokenScope;
  team: string | undefined;
}

export interface TokenStoreOptions {
  now?: () => Date;
  maxActive?: number;
}

/**
 * The daemon's API tokens, kept hashed in `<stateDir>/tokens/tokens.json` (0600 in a 0700 folder). The daemon is
 * the only writer (the CLI goes through the API), so the file is read once and every change is written through
 * before it is answered; changes are serialised so two creates never lose one another.
 */
export class TokenStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly file: string,
    private tokens: StoredToken[],
    private readonly now: () => Date,
    private readonly maxActive: number,
  ) {}

  static fileIn(stateDir: string): string {
    return path.join(stateDir, 'tokens', 'tokens.json');
  }

  static async open(stateDir: string, options: TokenStoreOptions = {}): Promise<TokenStore> {
    const file = TokenStore.fileIn(stateDir);
    // Fail closed: a damaged file stops the listener; it is never read as "no tokens" and overwritten.
    const stored = await readJsonFile(file, StoreFile, {
      invalid: (message) => tokenErrors.create('TOKEN_STORE_UNREADABLE', message),
    }).catch((err: unknown) => {
      throw isAiboxError(err) ? err : unreadable(file, err);
    });
    const tokens = stored?.tokens ?? [];
    return new TokenStore(
      file,
      tokens,
      options.now ?? (() => new Date()),
      options.maxActive ?? MAX_ACTIVE_TOKENS,
    );
  }

  list(): TokenInfo[] {
    const now = this.now();
    return this.tokens.map((t) => infoOf(t, now));
  }

  async create(request: CreateTokenRequest): Promise<CreatedToken> {
    const req = CreateTokenRequest.parse(request);
    return this.serial(async () => {
      const now = this.now();
      if (this.tokens.some((t) => t.name === req.name && stateOf(t, now) === 'active')) {
        throw tokenErrors.create('TOKEN_NAME_TAKEN', `an active token named "${req.name}" exists`, {
          name: req.name,
        });
      }
      if (this.tokens.filter((t) => stateOf(t, now) === 'active').length >= this.maxActive) {
        throw tokenErrors.create('TOKEN_LIMIT', `${this.maxActive} tokens are active already`);
      }
      const issued = issueSecret();
      const stored: StoredToken = {
        id: issued.id,
        name: req.name,
        scope: req.scope,
        ...(req.team ? { team: req.team } : {}),
        createdAt: now.toISOString(),
        ...(req.expiresInSeconds
          ? { expiresAt: new Date(now.getTime() + req.expiresInSeconds * 1000).toISOString() }
          : {}),
        hash: issued.hash,
      };
      await this.commit([...this.tokens, stored]);
      return { ...infoOf(stored, now), token: issued.token };
    });
  }

  /** Revokes the active token of that name, or the token with that id. Revoked tokens stay listed. */
  async revoke(nameOrId: string): Promise<TokenInfo> {
    return this.serial(async () => {
      const now = this.now();
      const target =
        this.tokens.find((t) => t.id === nameOrId) ??
        this.tokens.find((t) => t.name === nameOrId && stateOf(t, now) === 'active') ??
        this.tokens.find((t) => t.name === nameOrId);
      if (!target) {
        throw tokenErrors.create('TOKEN_NOT_FOUND', `no token named "${nameOrId.slice(0, 80)}"`);
      }
      if (target.revokedAt) return infoOf(target, now);
      const revoked = { ...target, revokedAt: now.toISOString() };
      await this.commit(this.tokens.map((t) => (t === target ? revoked : t)));
      return infoOf(revoked, now);
    });
  }

  /**
   * The principal of a bearer token, or a 401 naming why: malformed and unknown tokens and wrong secrets alike
   * are TOKEN_INVALID (nothing about them is echoed); only a proven secret learns it is expired or revoked.
   */
  authenticate(token: string | undefined): TokenPrincipal {
    if (!token) throw tokenErrors.create('TOKEN_MISSING', 'no bearer token');
    const parsed = parseToken(token);
    const stored = parsed ? this.tokens.find((t) => t.id === parsed.id) : undefined;
    if (!parsed || !stored || !secretMatches(parsed.secret, stored.hash)) {
      throw tokenErrors.create('TOKEN_INVALID', 'the bearer token is not valid');
    }
    const state = stateOf(stored, this.now());
    if (state === 'revoked') {
      throw tokenErrors.create('TOKEN_REVOKED', `token "${stored.name}" was revoked`, { id: stored.id });
    }
    if (state === 'expired') {
      throw tokenErrors.create('TOKEN_EXPIRED', `token "${stored.name}" expired at ${stored.expiresAt}`, {
        id: stored.id,
      });
    }
    return { id: stored.id, name: stored.name, scope: stored.scope, team: stored.team };
  }

  private async commit(next: StoredToken[]): Promise<void> {
    await writeJsonAtomic(this.file, { version: 1, tokens: next }, { mode: 0o600, mkdirMode: 0o700 });
    this.tokens = next; // only once it is on disk: an answer never claims what a crash would undo
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Whether a principal may use a route that needs `scope` (admin includes sessions). */
export function requireScope(principal: TokenPrincipal, scope: TokenScope): void {
  if (principal.scope === 'admin' || principal.scope === scope) return;
  throw tokenErrors.create(
    'TOKEN_SCOPE',
    `token "${principal.name}" has scope ${principal.scope}, not ${scope}`,
    {
      scope: principal.scope,
      needed: scope,
    },
  );
}

function stateOf(t: StoredToken, now: Date): TokenInfo['state'] {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && Date.parse(t.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

function infoOf(t: StoredToken, now: Date): TokenInfo {
  return {
    id: t.id,
    name: t.name,
    scope: t.scope,
    ...(t.team ? { team: t.team } : {}),
    createdAt: t.createdAt,
    ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
    ...(t.revokedAt ? { revokedAt: t.revokedAt } : {}),
    state: stateOf(t, now),
  };
}

function unreadable(file: string, err: unknown) {
  return tokenErrors.create(
    'TOKEN_STORE_UNREADABLE',
    `cannot read the token file ${file}`,
    {},
    { cause: err },
  );
}
