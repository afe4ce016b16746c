// The stable codes of the API's own errors (routing, requests, sandboxes), for clients to branch on with types:
// `isClientError(err, 'SANDBOX_NOT_FOUND')`. Domain modules answer with codes of their own (docs/errors.md lists
// every one); test/client/error-codes.test.ts checks each code here is defined in some catalogue.
export const API_ERROR_CODES = [
  'SANDBOX_NOT_FOUND',
  'SANDBOX_NAME_TAKEN',
  'SANDBOX_NAME_INVALID',
  'SANDBOX_PATH_NOT_FOUND',
  'SANDBOX_PATH_INVALID',
  'SANDBOX_NOT_RUNNING',
  'SANDBOX_BUSY',
  'SANDBOX_LAYER_FAILED',
  'SANDBOX_FORBIDDEN',
  'API_INVALID_REQUEST',
  'API_BAD_REQUEST',
  'API_ROUTE_NOT_FOUND',
  'API_ROOT_ONLY',
  'API_CALLER_UNKNOWN',
  'API_BAD_URL',
  'API_URL_TOO_LONG',
  'API_HEADERS_TOO_LARGE',
  'API_REQUEST_TIMEOUT',
  'API_UPGRADE_REFUSED',
  'API_UPGRADE_REQUIRED',
  'DAEMON_INTERNAL',
  'EXEC_INVALID',
  'EXEC_WORKDIR_NOT_FOUND',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];
