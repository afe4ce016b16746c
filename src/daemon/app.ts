import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import websocket from '@fastify/websocket';
import type { Caller } from '../shared/index.js';
import type { DaemonServices } from './services/index.js';
import { registerRoutes } from './routes/index.js';
import { installAccess } from './http/access.js';
import { installTokenAuth } from './http/token-auth.js';
import { registerDashboard } from './dashboard/register.js';
import type { DashboardConfig } from './dashboard/config.js';
import { collectRoutes, openApiRoutes } from './routes/openapi.js';
import { answerOf, clientErrorAnswer, toErrorAnswer, writeRawAnswer } from './http/contract.js';
import { guardUpgrades } from './http/upgrades.js';
import { auditRefusal } from './http/refusal-audit.js';
import type { PeerReader } from './http/peercred.js';

export interface AppOptions {
  /** Reads SO_PEERCRED from accepted connections; server.ts always gives it. */
  peer?: PeerReader;
  /** The caller of `app.inject()` requests (no socket): tests only; root when absent. */
  injectedCaller?: (raw: IncomingMessage) => Caller;
}

/** A stalled client (slowloris) gets 408 and its connection closed after this long without complete headers. */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Builds the HTTP application without listening, so tests drive it with `app.inject()` and server.ts binds it to
 * the unix socket. Every answer that is not a success is `{error: {code, message, hint}}` — route errors, unknown
 * routes, Fastify's own refusals, HTTP parse errors and refused WebSocket upgrades alike — with a 4xx unless it is
 * our own fault; stacks go to the log, never to the caller.
 */
export async function buildApp(services: DaemonServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.httpLogger,
    disableRequestLogging: false,
    bodyLimit: 4 * 1024 * 1024,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Stalled requests are found within a second of their deadline (Node checks every 30 s by default).
    http: { connectionsCheckingInterval: 1_000 },
    frameworkErrors: (err, request, reply) => {
      const answer = toErrorAnswer(err);
      request.log.info({ code: answer.payload.error.code }, 'request refused');
      void (reply as unknown as FastifyReply).status(answer.status).send(answer.payload);
    },
    clientErrorHandler: (err, socket) => {
      // A reset connection has nobody to answer; anything else gets an answer in the contract, then is closed.
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) {
        socket.destroy();
        return;
      }
      writeRawAnswer(socket, clientErrorAnswer(err));
    },
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  // Node hands CONNECT requests to a listener, or drops them without a word: answer them in the contract.
  app.server.on('connect', (_req, socket: Duplex) => {
    writeRawAnswer(socket, answerOf('API_BAD_REQUEST', 'aiboxd is not a proxy: CONNECT is not served'));
  });

  // An empty body with a JSON content type (DELETE, POST …/stop from simple clients) means "no body"; a body of
  // `null` is not "no body": routes take objects.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return done(
        Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }),
        undefined,
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return done(
        Object.assign(new Error('the request body must be a JSON object'), { statusCode: 400 }),
        undefined,
      );
    }
    done(null, parsed);
  });

  app.setErrorHandler(async (err: unknown, request, reply) => {
    let answer = toErrorAnswer(err);
    if (answer.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: answer.payload.error.code }, 'request refused');
    try {
      answer = await auditRefusal(services.audit, request, answer);
    } catch (auditErr) {
      // The refusal stands either way; a log that cannot be written is the daemon's own fault, reported loudly.
      request.log.error({ err: auditErr }, 'cannot write the refusal to the audit log');
    }
    return reply.status(answer.status).send(answer.payload);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const answer = answerOf('API_ROUTE_NOT_FOUND', `no route ${request.method} ${path.slice(0, 200)}`);
    void reply.status(answer.status).send(answer.payload);
  });

  installAccess(app, services, { peer: options.peer, injectedCaller: options.injectedCaller });
  // The dashboard translates its session cookie to the token before token authentication reads it.
  const listener = services.config.sessions.listener;
  // Optional: services built by hand (tests, embedders) may leave the section out.
  const ownPort: Partial<DashboardConfig> = services.config.dashboard ?? {};
  const onListener = listener.enabled && listener.dashboard;
  if (onListener || ownPort.enabled) {
    await registerDashboard(app, {
      tokens: () => services.sessionApi?.tokens,
      stateDir: services.config.stateDir,
      endpoints: [
        ...(onListener ? [{ host: listener.host, tls: listener.tls !== undefined }] : []),
        ...(ownPort.enabled && ownPort.host ? [{ host: ownPort.host, tls: ownPort.tls !== undefined }] : []),
      ],
    });
  }
  // Network-listener requests carry a bearer token instead of a uid (the unix socket's rules above skip them).
  installTokenAuth(app, () => services.sessionApi?.tokens, listener.authFailures);
  await app.register(websocket, { options: { maxPayload: 16 * 1024 * 1024 } });
  guardUpgrades(app.server);
  const routes = collectRoutes(app);
  await registerRoutes(app, services);
  await app.register(openApiRoutes(routes, services.version));
  return app;
}

/** Every socket the server accepted and has not yet closed (HTTP and upgraded alike), for a bounded shutdown. */
export function trackConnections(app: FastifyInstance): Set<Socket> {
  const open = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return open;
}
