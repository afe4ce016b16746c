import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { SessionsConfig } from '../../sessions/index.js';
import { requireScope, tokenErrors, type TokenPrincipal, type TokenStore } from '../../tokens/index.js';
import type { TokenScope } from '../../shared/index.js';
import type { Caller, Logger } from '../../shared/index.js';
import { clientErrorAnswer, writeRawAnswer } from './contract.js';

/** Requests without a valid token one client address may send per window on the network listener. */
export interface AuthFailureLimit {
  max: number;
  windowSeconds: number;
}
export const AUTH_FAILURE_LIMIT: AuthFailureLimit = { max: 30, windowSeconds: 60 };

/** Requests that arrived on the network listener (never on the unix socket): they carry a token, not a uid. */
const networkRequests = new WeakSet<IncomingMessage>();

export function isNetworkRequest(raw: IncomingMessage): boolean {
  return networkRequests.has(raw);
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The API token a network request was authenticated with (undefined on the unix socket). */
    principal: TokenPrincipal | undefined;
  }
  interface FastifyContextConfig {
    /** The token scope a route needs on the network listener; a route without one is not served there. */
    tokenScope?: TokenScope;
  }
}

/**
 * Bearer-token authentication for requests of the network listener, in the same app as the unix socket (whose
 * per-uid rules stay as they are). A network request needs a valid token (401 otherwise: missing, unknown, expired
 * or revoked) and a route that names the scope it needs (403 TOKEN_SCOPE for one that does not: fail closed, no
 * unix-socket route is reachable with a token by accident).
 */
export function installTokenAuth(
  app: FastifyInstance,
  tokens: () => TokenStore | undefined,
  failures: AuthFailureLimit = AUTH_FAILURE_LIMIT,
): void {
  app.decorateRequest('principal', undefined);
  // Refused authentications per client address (@fastify/rate-limit, no route hook of its own): past the limit an
  // address is answered 429 before its token is even looked at, until the window ends.
  void app.register(rateLimit, { global: false });
  let limiter: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  const refusedFrom = () =>
    (limiter ??= app.createRateLimit({
      max: failures.max,
      timeWindow: failures.windowSeconds * 1000,
      keyGenerator: (request) => request.ip,
    }));
  app.addHook('onRequest', async (request, reply) => {
    // The dashboard's page, assets and login (src/daemon/dashboard) are what a browser loads before it has a token.
    if (!isNetworkRequest(request.raw) || request.routeOptions.config.dashboardPublic) return;
    // A dashboard session's token, re-checked by its id just before (dashboard/register.ts).
    if (request.principal) return;
    const seen = await refusedFrom()(request, { increment: false });
    if (!seen.isAllowed && seen.remaining === 0) {
      void reply.header('retry-after', String(seen.ttlInSeconds));
      throw tokenErrors.create(
        'TOKEN_RATE_LIMITED',
        `more than ${failures.max} requests from this address were refused for their token in ${failures.windowSeconds} s`,
        { retryAfterSeconds: seen.ttlInSeconds },
      );
    }
    try {
      const store = tokens();
      if (!store) throw tokenErrors.create('TOKEN_INVALID', 'this daemon issues no tokens');
      request.principal = store.authenticate(bearerOf(request));
    } catch (err) {
      await refusedFrom()(request);
      throw err;
    }
  });
  app.addHook('preHandler', async (request) => {
    if (!isNetworkRequest(request.raw) || request.is404 || request.routeOptions.config.dashboardPublic)
      return;
    const principal = request.principal;
    const scope = request.routeOptions.config.tokenScope;
    if (!principal) throw tokenErrors.create('TOKEN_MISSING', 'no bearer token');
    if (!scope) {
      throw tokenErrors.create(
        'TOKEN_SCOPE',
        `${request.method} ${request.routeOptions.url ?? ''} is served on the unix socket only`,
      );
    }
    requireScope(principal, scope);
  });
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export interface NetworkListener {
  url: string;
  close(): Promise<void>;
}

/**
 * The opt-in network listener: an HTTP (or, given a certificate and key, HTTPS) server whose requests and WebSocket
 * upgrades go through the same Fastify app as the unix socket, marked as network requests for token auth.
 */
export async function startNetworkListener(
  app: FastifyInstance,
  config: Omit<SessionsConfig['listener'], 'authFailures'>,
  logger: Logger,
  /** Called with each request and upgrade before routing (the dashboard's own port marks its requests). */
  mark?: (req: IncomingMessage) => void,
): Promise<NetworkListener> {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    networkRequests.add(req);
    mark?.(req);
    app.routing(req, res);
  };
  const server = config.tls
    ? https.createServer(
        {
          cert: await readFile(config.tls.cert),
          key: await readFile(config.tls.key),
          minVersion: 'TLSv1.2',
        },
        onRequest,
      )
    : http.createServer(onRequest);
  server.headersTimeout = 5_000;
  server.requestTimeout = 30_000;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    networkRequests.add(req);
    mark?.(req);
    app.server.emit('upgrade', req, socket, head);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) socket.destroy();
    else writeRawAnswer(socket, clientErrorAnswer(err));
  });
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${address.port}`;
  logger.info({ url }, 'aiboxd network listener (bearer tokens)');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          for (const s of open) s.destroy();
        }, 2_000);
        timer.unref();
      }),
  };
}

/** `request.caller` of a network request: no uid at all, so no unix-socket rule can ever match it. */
export const NETWORK_CALLER: Caller = Object.freeze({ uid: -1, gid: -1, pid: 0 });
