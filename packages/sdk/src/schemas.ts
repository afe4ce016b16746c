// The wire contract, shared with aiboxd: the same zod schemas the daemon validates with (src/shared/api).
export {
  CreateSessionRequest,
  SessionReport,
  SessionList,
  SessionRemovedReport,
  SessionExecRequest,
  SessionExecResult,
  FileEntry,
  FileList,
  FileWrittenReport,
  TarExtractedReport,
  FileRemovedReport,
  CompatCreateSessionResponse,
  CompatExecuteResponse,
  CompatCleanupResponse,
  SESSION_ROUTES,
  SESSION_ERROR_CODES,
  type SessionErrorCode,
} from '../../../src/shared/api/sessions.js';
export {
  CreateTokenRequest,
  CreatedToken,
  TokenInfo,
  TokenList,
  TOKEN_ROUTES,
  TOKEN_ERROR_CODES,
  type TokenErrorCode,
} from '../../../src/shared/api/tokens.js';
export { ApiErrorBody } from '../../../src/shared/api/errors.js';
export { ExecControlMessage, EXEC_STREAM } from '../../../src/shared/api/system.js';
