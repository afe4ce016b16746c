import type { z } from 'zod';
import {
  CompatCleanupResponse,
  CompatCreateSessionResponse,
  CompatExecuteResponse,
  CreatedToken,
  SessionList,
  SessionReport,
  SESSION_ROUTES as R,
  TOKEN_ROUTES,
  TokenList,
} from './schemas.js';
import type { CreateSessionRequest, CreateTokenRequest, TokenInfo } from './schemas.js';
import { Session, type SessionInfo } from './session.js';
import { Transport, fill } from './transport.js';

export interface AiboxClientOptions {
  /** Default: $AIBOX_URL, else http://127.0.0.1:7373. */
  baseUrl?: string;
  /** Default: $AIBOX_TOKEN. */
  token?: string;
  /** Per request, default 120 s (exec adds its own timeout). */
  timeoutMs?: number;
  /** A fetch to use instead of the global one (a private CA: NODE_EXTRA_CA_CERTS, or an undici dispatcher). */
  fetch?: typeof fetch;
}

export type CreateSessionOptions = z.input<typeof CreateSessionRequest>;

/** A client of aiboxd's network listener: sessions, exec, files, tokens, and the compatibility endpoints. */
export class AiboxClient {
  private readonly t: Transport;
  readonly compat: CompatApi;
  readonly tokens: TokensApi;

  constructor(options: AiboxClientOptions = {}) {
    this.t = new Transport({
      baseUrl: options.baseUrl ?? process.env.AIBOX_URL ?? 'http://127.0.0.1:7373',
      token: options.token ?? process.env.AIBOX_TOKEN,
      timeoutMs: options.timeoutMs ?? 120_000,
      fetch: options.fetch ?? globalThis.fetch,
    });
    this.compat = new CompatApi(this.t);
    this.tokens = new TokensApi(this.t);
  }

  async createSession(options: CreateSessionOptions = {}): Promise<Session> {
    return new Session(this.t, await this.t.json(SessionReport, 'POST', R.collection, { json: options }));
  }

  /** Runs `fn` with a new session and removes it afterwards, whatever `fn` does. */
  async withSession<T>(options: CreateSessionOptions, fn: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.createSession(options);
    try {
      return await fn(session);
    } finally {
      await session.close();
    }
  }

  async session(id: string): Promise<Session> {
    return new Session(this.t, await this.t.json(SessionReport, 'GET', fill(R.one, { id })));
  }

  async listSessions(): Promise<SessionInfo[]> {
    return (await this.t.json(SessionList, 'GET', R.collection)).sessions;
  }
}

/** The session-sandbox API programs already use: POST /create_session, /execute, /cleanup. */
export class CompatApi {
  constructor(private readonly t: Transport) {}

  async createSession(options: { profile?: string; ttl?: number } = {}): Promise<string> {
    return (await this.t.json(CompatCreateSessionResponse, 'POST', R.compatCreate, { json: options }))
      .session_id;
  }

  async execute(sessionId: string, command: string, timeout?: number) {
    return this.t.json(CompatExecuteResponse, 'POST', R.compatExecute, {
      json: { session_id: sessionId, command, ...(timeout ? { timeout } : {}) },
      timeoutMs: (timeout ?? 60) * 1000 + this.t.options.timeoutMs,
    });
  }

  async cleanup(sessionId: string): Promise<void> {
    await this.t.json(CompatCleanupResponse, 'POST', R.compatCleanup, { json: { session_id: sessionId } });
  }
}

/** Token management (an admin token). */
export class TokensApi {
  constructor(private readonly t: Transport) {}

  create(request: z.input<typeof CreateTokenRequest>): Promise<z.infer<typeof CreatedToken>> {
    return this.t.json(CreatedToken, 'POST', TOKEN_ROUTES.collection, { json: request });
  }

  async list(): Promise<z.infer<typeof TokenInfo>[]> {
    return (await this.t.json(TokenList, 'GET', TOKEN_ROUTES.collection)).tokens;
  }

  async revoke(nameOrId: string): Promise<void> {
    await this.t.send('DELETE', fill(TOKEN_ROUTES.one, { name: nameOrId }));
  }
}
