import type { LlmDialect } from './config.js';
import type { LlmProxyErrorCode } from './errors.js';

/** One model call a request asks for: what the policy checks (model, max tokens). */
export interface ModelCall {
  model: string;
  maxTokens: number | undefined;
}

/**
 * What a request is, once its path and body were read against the provider's API: the policy checks every model
 * call in it; anything the proxy cannot read is refused (an unknown path, a batch whose requests live in uploaded
 * files, a body that is not a JSON object).
 */
export type RequestShape =
  /** No model is called (model list, batch status and results). */
  | { kind: 'read' }
  /** One model call; `generates`: it produces tokens (so it counts against limits and the budget). */
  | { kind: 'call'; call: ModelCall; generates: boolean }
  /** Many model calls in one request (a message batch): each is checked; their max tokens are charged up front. */
  | { kind: 'batch'; calls: ModelCall[] }
  | { kind: 'refuse'; code: LlmProxyErrorCode; rule: string; reason: string };

type Shape = 'read' | 'call' | 'count' | 'anthropic-batch' | 'uncheckable';

interface Route {
  method: string;
  path: RegExp;
  shape: Shape;
}

const ID = '[A-Za-z0-9_-]{1,128}';

/** The API paths aibox knows how to check, per dialect. Everything else is refused. */
const ROUTES: Record<LlmDialect, { prefix: RegExp; routes: Route[]; maxTokenFields: string[] }> = {
  anthropic: {
    prefix: /^/,
    maxTokenFields: ['max_tokens'],
    routes: [
      { method: 'POST', path: /^\/v1\/messages$/, shape: 'call' },
      { method: 'POST', path: /^\/v1\/messages\/count_tokens$/, shape: 'count' },
      { method: 'POST', path: /^\/v1\/messages\/batches$/, shape: 'anthropic-batch' },
      { method: 'GET', path: /^\/v1\/messages\/batches$/, shape: 'read' },
      { method: 'GET', path: new RegExp(`^/v1/messages/batches/${ID}(/results)?$`), shape: 'read' },
      { method: 'POST', path: new RegExp(`^/v1/messages/batches/${ID}/cancel$`), shape: 'read' },
      { method: 'DELETE', path: new RegExp(`^/v1/messages/batches/${ID}$`), shape: 'read' },
      { method: 'GET', path: new RegExp(`^/v1/models(/${ID})?$`), shape: 'read' },
      { method: 'POST', path: /^\/v1\/files$/, shape: 'uncheckable' },
    ],
  },
  openai: {
    // Custom OpenAI-style providers get a base URL without /v1: accept both.
    prefix: /^(\/v1)?/,
    maxTokenFields: ['max_tokens', 'max_completion_tokens', 'max_output_tokens'],
    routes: [
      { method: 'POST', path: /^\/chat\/completions$/, shape: 'call' },
      { method: 'POST', path: /^\/completions$/, shape: 'call' },
      { method: 'POST', path: /^\/responses$/, shape: 'call' },
      { method: 'POST', path: /^\/embeddings$/, shape: 'count' },
      { method: 'GET', path: new RegExp(`^/models(/${ID})?$`), shape: 'read' },
      { method: 'POST', path: /^\/batches$/, shape: 'uncheckable' },
      { method: 'POST', path: /^\/files$/, shape: 'uncheckable' },
      { method: 'POST', path: /^\/uploads$/, shape: 'uncheckable' },
    ],
  },
};

const refuse = (code: LlmProxyErrorCode, rule: string, reason: string): RequestShape => ({
  kind: 'refuse',
  code,
  rule,
  reason,
});

/**
 * Reads a request against the dialect's route table. `body` is the raw body; `contentType` its header. Pure: the
 * proxy forwards only what this returns as `read`, `call` or `batch`, and forwards the body unchanged.
 */
export function shapeOf(
  dialect: LlmDialect,
  method: string,
  pathOnly: string,
  contentType: string | undefined,
  body: Buffer,
): RequestShape & { json?: Record<string, unknown> } {
  const table = ROUTES[dialect];
  const rel = pathOnly.replace(table.prefix, '');
  const route = table.routes.find((r) => r.method === method && r.path.test(rel));
  if (!route) {
    return refuse(
      'LLM_ENDPOINT_NOT_ALLOWED',
      'aibox.endpoints',
      `${method} ${pathOnly} is not an API path aibox can check for the ${dialect} API`,
    );
  }
  if (route.shape === 'uncheckable') {
    return refuse(
      'LLM_ENDPOINT_NOT_ALLOWED',
      'aibox.endpoints',
      `${method} ${pathOnly} carries requests in uploaded files that aibox cannot check against the policy`,
    );
  }
  if (route.shape === 'read') {
    return body.length === 0
      ? { kind: 'read' }
      : refuse('LLM_REQUEST_INVALID', 'aibox.body', `${method} ${pathOnly} takes no request body`);
  }
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test((contentType ?? '').trim())) {
    return refuse('LLM_REQUEST_INVALID', 'aibox.body', 'the request body must be application/json');
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse('LLM_REQUEST_INVALID', 'aibox.body', 'the request body is not valid JSON');
  }
  if (!isObject(json))
    return refuse('LLM_REQUEST_INVALID', 'aibox.body', 'the request body must be a JSON object');
  if (route.shape === 'anthropic-batch') {
    const requests = json['requests'];
    if (!Array.isArray(requests) || requests.length === 0)
      return refuse('LLM_REQUEST_INVALID', 'aibox.body', 'a message batch needs a non-empty requests list');
    const calls: ModelCall[] = [];
    for (const [i, r] of requests.entries()) {
      const params = isObject(r) ? r['params'] : undefined;
      const call = isObject(params) ? modelCall(params, table.maxTokenFields) : undefined;
      if (!call?.model || call.maxTokens === undefined)
        return refuse(
          'LLM_REQUEST_INVALID',
          'aibox.body',
          `requests[${i}].params must name a model and max_tokens (the policy checks each request of a batch)`,
        );
      calls.push(call);
    }
    return { kind: 'batch', calls, json };
  }
  const call = modelCall(json, table.maxTokenFields);
  if (!call) return refuse('LLM_REQUEST_INVALID', 'aibox.body', 'the request must name its model');
  return { kind: 'call', call, generates: route.shape === 'call', json };
}

function modelCall(body: Record<string, unknown>, maxTokenFields: string[]): ModelCall | undefined {
  const model = body['model'];
  if (typeof model !== 'string' || model === '') return undefined;
  const stated = maxTokenFields.map((f) => body[f]).find((v): v is number => typeof v === 'number');
  // `n` completions (OpenAI) each produce up to max tokens: the request can produce their product.
  const n = typeof body['n'] === 'number' && body['n'] > 1 ? body['n'] : 1;
  return { model, maxTokens: stated === undefined ? undefined : stated * n };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
