/**
 * The network listener's limit on refused authentications per client address (@fastify/rate-limit keyed by IP):
 * past it, 429 TOKEN_RATE_LIMITED with Retry-After before any token is looked at, until the window ends. Requests
 * with a valid token do not count; unix-socket requests are never limited here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toErrorAnswer } from '../../src/daemon/http/contract.js';
import {
  installTokenAuth,
  startNetworkListener,
  type NetworkListener,
} from '../../src/daemon/http/token-auth.js';
import { TokenStore } from '../../src/tokens/index.js';

describe('refused authentications per address on the network listener', () => {
  let dir: string;
  let app: FastifyInstance;
  let listener: NetworkListener;
  let good: string;
  const WINDOW_S = 2;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'aibox-auth-limit-'));
    const tokens = await TokenStore.open(dir);
    good = (await tokens.create({ name: 'agent', scope: 'sessions' })).token;
    app = Fastify({ logger: false });
    app.setErrorHandler(async (err, _request, reply) => {
      const answer = toErrorAnswer(err);
      return reply.status(answer.status).send(answer.payload);
    });
    installTokenAuth(app, () => tokens, { max: 3, windowSeconds: WINDOW_S });
    app.get('/v1/thing', { config: { tokenScope: 'sessions' } }, async () => ({ ok: true }));
    await app.ready();
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(p));
      });
    });
    listener = await startNetworkListener(
      app,
      { enabled: true, host: '127.0.0.1', port, dashboard: false },
      pino({ level: 'silent' }),
    );
  });
  afterAll(async () => {
    await listener?.close();
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const get = async (token?: string) => {
    const res = await fetch(`${listener.url}/v1/thing`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      code: ((await res.json()) as { error?: { code: string } }).error?.code,
    };
  };

  it('answers 429 with Retry-After once an address used up its refusals, then lets it in again', async () => {
    // valid requests never count
    for (let i = 0; i < 8; i++) expect((await get(good)).status).toBe(200);
    expect(await get()).toMatchObject({ status: 401, code: 'TOKEN_MISSING' });
    expect(await get('aibox_tok_000000000000_nope')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    expect(await get(`${good.slice(0, -2)}xx`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    const limited = await get('aibox_tok_000000000000_nope');
    expect(limited).toMatchObject({ status: 429, code: 'TOKEN_RATE_LIMITED' });
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(WINDOW_S);
    // refused before the token is looked at: a valid one waits too
    expect(await get(good)).toMatchObject({ status: 429, code: 'TOKEN_RATE_LIMITED' });
    // requests that do not arrive on the listener (the unix socket) are not limited here
    expect((await app.inject({ method: 'GET', url: '/v1/thing' })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, Number(limited.retryAfter) * 1000 + 200));
    expect((await get(good)).status).toBe(200);
  });
});
