import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ZodError } from 'zod';
import { isAiboxError, type ApiErrorBody } from '../../shared/index.js';
import { daemonErrors } from '../errors.js';

type DaemonCode = keyof typeof daemonErrors.catalogue;

export interface ErrorAnswer {
  status: number;
  payload: ApiErrorBody;
}

/** An answer in the error contract from one of the daemon's own codes. */
export function answerOf(code: DaemonCode, message: string): ErrorAnswer {
  const spec = daemonErrors.catalogue[code];
  return { status: spec.status, payload: { error: { code, message, hint: spec.hint } } };
}

/** Fastify's own 4xx codes that have a code of ours with a better hint. */
const FASTIFY_CODES: Readonly<Record<string, DaemonCode>> = {
  FST_ERR_BAD_URL: 'API_BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'API_URL_TOO_LONG',
};

/**
 * Anything thrown while handling a request, as `{error: {code, message, hint}}`: AiboxErrors as they are, schema
 * errors as API_INVALID_REQUEST, Fastify's 4xx (bad URL, body too large, bad content type …) with their status,
 * everything else as a 500 that says nothing about the internals.
 */
export function toErrorAnswer(err: unknown): ErrorAnswer {
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
  const fastifyErr = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  const status = fastifyErr.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = typeof fastifyErr.message === 'string' ? fastifyErr.message : 'bad request';
    const ours = typeof fastifyErr.code === 'string' ? FASTIFY_CODES[fastifyErr.code] : undefined;
    if (ours) return answerOf(ours, message);
    return {
      status,
      payload: {
        error: { code: 'API_BAD_REQUEST', message, hint: daemonErrors.catalogue.API_BAD_REQUEST.hint },
      },
    };
  }
  return answerOf('DAEMON_INTERNAL', 'aiboxd failed to handle the request');
}

/** The contract answer to a connection-level failure Node reports before Fastify sees a request. */
export function clientErrorAnswer(err: { code?: unknown }): ErrorAnswer {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return answerOf('API_HEADERS_TOO_LARGE', 'the request headers are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return answerOf('API_REQUEST_TIMEOUT', 'the request was not received in time');
    default:
      return answerOf('API_BAD_REQUEST', 'the request is not valid HTTP/1.1');
  }
}

/**
 * Writes a complete HTTP answer straight to a socket Fastify does not answer on (client errors, refused upgrades)
 * and closes it: the connection is never reused, so nothing is left open behind it.
 */
export function writeRawAnswer(socket: Duplex, answer: ErrorAnswer): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(answer.payload);
  const head = [
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${body}`);
  // A peer that never reads must not keep the descriptor: end() flushes, destroy() frees it regardless.
  const timer = setTimeout(() => socket.destroy(), 2_000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
