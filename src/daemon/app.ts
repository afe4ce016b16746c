import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { ZodError } from 'zod';
import { isAiboxError } from '../shared/index.js';
import type { ApiErrorBody } from '../shared/index.js';
import type { DaemonServices } from './services/index.js';
import { registerRoutes } from './routes/index.js';
import { daemonErrors } from './errors.js';

/**
 * Builds the HTTP application without listening, so tests drive it with `app.inject()` and server.ts binds it to
 * the unix socket. Every error leaves as `{error: {code, message, hint}}` with a 4xx unless it is our own fault;
 * stacks go to the log, never to the caller.
 */
export async function buildApp(services: DaemonServices): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.httpLogger,
    disableRequestLogging: false,
    bodyLimit: 4 * 1024 * 1024,
  });

  // An empty body with a JSON content type (DELETE, POST …/stop from simple clients) means "no body".
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    const body = toErrorBody(err);
    if (body.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: body.payload.error.code }, 'request refused');
    void reply.status(body.status).send(body.payload);
  });

  app.setNotFoundHandler((request, reply) => {
    const payload: ApiErrorBody = {
      error: {
        code: 'API_ROUTE_NOT_FOUND',
        message: `no route ${request.method} ${request.url}`,
        hint: daemonErrors.catalogue.API_ROUTE_NOT_FOUND.hint,
      },
    };
    void reply.status(404).send(payload);
  });

  await app.register(websocket);
  await registerRoutes(app, services);
  return app;
}

function toErrorBody(err: unknown): { status: number; payload: ApiErrorBody } {
  if (isAiboxError(err)) return { status: err.status, payload: { error: err.toJSON() } };
  if (err instanceof ZodError) {
    const first = err.issues[0];
    const where = first && first.path.length > 0 ? first.path.join('.') : 'body';
    return {
      status: 400,
      payload: {
        error: {
          code: 'API_INVALID_REQUEST',
          message: `invalid request: ${where}: ${first?.message ?? 'does not match the schema'}`,
          hint: daemonErrors.catalogue.API_INVALID_REQUEST.hint,
          details: { issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
        },
      },
    };
  }
  const fastifyErr = err as { statusCode?: number; code?: string; message?: string };
  if (
    typeof fastifyErr.statusCode === 'number' &&
    fastifyErr.statusCode >= 400 &&
    fastifyErr.statusCode < 500
  ) {
    return {
      status: fastifyErr.statusCode,
      payload: {
        error: {
          code: 'API_BAD_REQUEST',
          message: fastifyErr.message ?? 'bad request',
          hint: daemonErrors.catalogue.API_BAD_REQUEST.hint,
        },
      },
    };
  }
  return {
    status: 500,
    payload: {
      error: {
        code: 'DAEMON_INTERNAL',
        message: 'aiboxd failed to handle the request',
        hint: daemonErrors.catalogue.DAEMON_INTERNAL.hint,
      },
    },
  };
}
