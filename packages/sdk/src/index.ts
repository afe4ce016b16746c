// @aibox/sdk — drive aibox sessions (gVisor sandboxes for programs) with an API token.
export {
  AiboxClient,
  CompatApi,
  TokensApi,
  type AiboxClientOptions,
  type CreateSessionOptions,
} from './client.js';
export { Session, type ExecOptions, type ExecResult, type SessionInfo } from './session.js';
export { ExecStream, type ExecEvent, type ExecStreamSpec } from './exec-stream.js';
export {
  AiboxApiError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  PayloadTooLargeError,
  RateLimitError,
  InvalidRequestError,
  ServerError,
  ConnectionError,
  type KnownErrorCode,
} from './errors.js';
export { SESSION_ERROR_CODES, TOKEN_ERROR_CODES } from './schemas.js';
export type { FileEntry } from './schemas.js';
