import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { LlmDialect } from './config.js';
import type { LlmProxyErrorCode } from './errors.js';

/** What differs between provider APIs: where the key goes and what an error looks like. */
export interface Dialect {
  /** The key the agent sent (the placeholder, if it behaves). */
  presentedKey(headers: IncomingHttpHeaders): string | undefined;
  /** Writes the real key into the outgoing headers. */
  injectKey(headers: OutgoingHttpHeaders, key: string): void;
  /** An error body the provider's SDK understands, carrying aibox's code, reason and decision id. */
  errorBody(status: number, code: LlmProxyErrorCode, message: string, decisionId: string): unknown;
}

function bearer(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
  return m?.[1];
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' ? v : undefined;
}

const anthropic: Dialect = {
  presentedKey: (h) => header(h, 'x-api-key') ?? bearer(h),
  injectKey: (h, key) => {
    h['x-api-key'] = key;
  },
  errorBody: (status, code, message, decisionId) => ({
    type: 'error',
    error: {
      type: anthropicType(status),
      message,
      aibox_code: code,
      decision_id: decisionId,
    },
  }),
};

const openai: Dialect = {
  presentedKey: (h) => bearer(h) ?? header(h, 'api-key'),
  injectKey: (h, key) => {
    h['authorization'] = `Bearer ${key}`;
  },
  errorBody: (status, code, message, decisionId) => ({
    error: {
      message,
      type: openaiType(status, code),
      param: null,
      code: code.toLowerCase(),
      decision_id: decisionId,
    },
  }),
};

function anthropicType(status: number): string {
  if (status === 400 || status === 413) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return 'api_error';
}

function openaiType(status: number, code: LlmProxyErrorCode): string {
  if (code === 'LLM_BUDGET_EXHAUSTED') return 'insufficient_quota';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export const DIALECTS: Record<LlmDialect, Dialect> = { anthropic, openai };

/** Headers that are about one connection, or that carry keys: never forwarded as they came. */
export const STRIPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'accept-encoding',
  'authorization',
  'x-api-key',
  'api-key',
  'cookie',
]);

export const STRIPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
]);
