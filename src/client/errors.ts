import type { ApiErrorCode } from '../shared/api/error-codes.js';
import { AiboxError, defineErrors } from '../shared/errors.js';
import type { ErrorSpec } from '../shared/errors.js';

/**
 * Errors the client raises itself, when no usable answer came from aiboxd. `status` is 0: there was no HTTP answer
 * (or none that follows the contract). Errors the daemon answered keep the daemon's code, hint and status.
 */
export const clientErrors = defineErrors({
  DAEMON_NOT_RUNNING: {
    status: 0,
    hint: 'start it with `aiboxd` (or `npm run quickstart`); pass --socket PATH or set AIBOX_SOCKET if it listens elsewhere',
  },
  DAEMON_SOCKET_DENIED: {
    status: 0,
    hint: 'the socket belongs to the `aibox-users` group (socketGroup in the daemon config): `sudo usermod -aG aibox-users $USER`, then log in again (or run as root)',
  },
  DAEMON_CONNECTION_LOST: {
    status: 0,
    hint: 'aiboxd closed the connection mid-request; check it is still running (`aibox status`) and its log',
  },
  EXEC_OUTPUT_CLOSED: {
    status: 0,
    hint: 'whatever read the output of `aibox exec` closed it (e.g. `| head`); the command was disconnected',
  },
  DAEMON_BAD_RESPONSE: {
    status: 0,
    hint: 'the daemon answered outside the API contract; check the CLI and daemon versions match (`aibox version`)',
  },
});

export type ClientErrorCode = keyof typeof clientErrors.catalogue;

/**
 * The codes a caller can branch on with types: the API's own (shared/api/error-codes.ts) and the client's. Domain
 * modules answer with further codes (docs/errors.md); those arrive as they are, as plain strings.
 */
export type ErrorCode = ApiErrorCode | ClientErrorCode;

/** Codes meaning "the daemon could not be reached at all" (the CLI exits 3 on these). */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set<ClientErrorCode>([
  'DAEMON_NOT_RUNNING',
  'DAEMON_SOCKET_DENIED',
  'DAEMON_CONNECTION_LOST',
]);

/**
 * Every failure the client reports: the daemon's own error (code, message, hint, HTTP status) or one of the
 * client's codes above. Never carries a stack to print; `message` and `hint` are meant for users.
 */
export class ClientError extends AiboxError {
  constructor(
    code: string,
    message: string,
    spec: ErrorSpec,
    details?: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(code, message, spec, details, cause === undefined ? undefined : { cause });
    this.name = 'ClientError';
  }

  static local(code: ClientErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown) {
    return new ClientError(code, message, clientErrors.catalogue[code], details, cause);
  }

  /** True when the daemon could not be reached (not running, socket denied, connection lost). */
  get unreachable(): boolean {
    return UNREACHABLE_CODES.has(this.code);
  }
}

/** Any ClientError, or (with `code`) one with that code: `isClientError(err, 'SANDBOX_NOT_FOUND')`. */
export function isClientError(err: unknown, code?: ErrorCode): err is ClientError {
  return err instanceof ClientError && (code === undefined || err.code === code);
}

/** Maps a socket-level failure (connect or mid-request) onto the client's codes. */
export function connectionError(socketPath: string, err: unknown): ClientError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT')
    return ClientError.local('DAEMON_NOT_RUNNING', `aiboxd is not running (no socket at ${socketPath})`, {
      socket: socketPath,
    });
  if (code === 'ECONNREFUSED')
    return ClientError.local(
      'DAEMON_NOT_RUNNING',
      `aiboxd is not running (nothing listens on ${socketPath})`,
      {
        socket: socketPath,
      },
    );
  if (code === 'EACCES' || code === 'EPERM')
    return ClientError.local('DAEMON_SOCKET_DENIED', `permission denied on the aiboxd socket ${socketPath}`, {
      socket: socketPath,
    });
  if (code === 'ENOTSOCK' || code === 'ENOTDIR')
    return ClientError.local('DAEMON_NOT_RUNNING', `${socketPath} is not an aiboxd socket`, {
      socket: socketPath,
    });
  return ClientError.local(
    'DAEMON_CONNECTION_LOST',
    `lost the connection to aiboxd on ${socketPath}${code ? ` (${code})` : ''}`,
    { socket: socketPath },
  );
}
