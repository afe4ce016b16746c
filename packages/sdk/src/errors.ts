import type { SessionErrorCode, TokenErrorCode } from './schemas.js';

/** Codes the session API answers with; other aibox codes (docs/errors.md) may appear too. */
export type KnownErrorCode =
  | SessionErrorCode
  | TokenErrorCode
  | 'API_INVALID_REQUEST'
  | 'API_BAD_REQUEST'
  | 'API_ROUTE_NOT_FOUND'
  | 'SANDBOX_NOT_RUNNING'
  | 'DAEMON_INTERNAL'
  | 'SDK_CONNECTION_FAILED'
  | 'SDK_BAD_RESPONSE';

/** An answer outside 2xx (or no answer): `code` is stable, `hint` says what to do. */
export class AiboxApiError extends Error {
  override readonly name: string = 'AiboxApiError';
  constructor(
    readonly code: KnownErrorCode | (string & {}),
    message: string,
    readonly status: number,
    readonly hint: string = '',
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${code}: ${message}`);
  }
}

/** 401: no token, or an unknown, expired or revoked one. */
export class AuthenticationError extends AiboxApiError {
  override readonly name = 'AuthenticationError';
}
/** 403: the token lacks the scope. */
export class PermissionDeniedError extends AiboxApiError {
  override readonly name = 'PermissionDeniedError';
}
/** 404: an unknown (or expired) session, a missing file, an unknown route. */
export class NotFoundError extends AiboxApiError {
  override readonly name = 'NotFoundError';
}
/** 409: not in a state that allows it. */
export class ConflictError extends AiboxApiError {
  override readonly name = 'ConflictError';
}
/** 413: a file or the workspace over its cap. */
export class PayloadTooLargeError extends AiboxApiError {
  override readonly name = 'PayloadTooLargeError';
}
/** 429: too many sessions or requests; retry after `retryAfterSeconds`. */
export class RateLimitError extends AiboxApiError {
  override readonly name = 'RateLimitError';
  constructor(
    code: string,
    message: string,
    status: number,
    hint: string,
    details: Record<string, unknown>,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(code, message, status, hint, details);
  }
}
/** Any other 4xx. */
export class InvalidRequestError extends AiboxApiError {
  override readonly name = 'InvalidRequestError';
}
/** 5xx: the daemon's own fault. */
export class ServerError extends AiboxApiError {
  override readonly name = 'ServerError';
}
/** The daemon could not be reached, or the connection broke. */
export class ConnectionError extends AiboxApiError {
  override readonly name = 'ConnectionError';
}

export function errorFor(
  status: number,
  body: { code: string; message: string; hint?: string; details?: Record<string, unknown> },
  retryAfter?: string | null,
): AiboxApiError {
  const args = [body.code, body.message, status, body.hint ?? '', body.details ?? {}] as const;
  switch (status) {
    case 401:
      return new AuthenticationError(...args);
    case 403:
      return new PermissionDeniedError(...args);
    case 404:
      return new NotFoundError(...args);
    case 409:
      return new ConflictError(...args);
    case 413:
      return new PayloadTooLargeError(...args);
    case 429: {
      const seconds = retryAfter ? Number(retryAfter) : NaN;
      return new RateLimitError(...args, Number.isFinite(seconds) ? seconds : undefined);
    }
    default:
      return status >= 500 ? new ServerError(...args) : new InvalidRequestError(...args);
  }
}
