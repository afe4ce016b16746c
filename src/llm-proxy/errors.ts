import { defineErrors } from '../shared/index.js';

/**
 * Error catalogue of the LLM proxy. Per-request refusals reach the agent in its provider's error shape and carry
 * one of these codes as `aibox_code`; startup errors fail the sandbox (fail closed) and name the fix.
 */
export const llmProxyErrors = defineErrors({
  LLM_CONFIG_INVALID: {
    status: 400,
    hint: 'Fix `llm.providers` in the daemon config: an https upstream, a credential name, a readable caFile.',
  },
  LLM_PROXY_START_FAILED: {
    status: 500,
    hint: 'The LLM proxy could not listen on the host loopback: check the port is free (`ss -ltnp`) and the daemon log.',
  },
  LLM_PROVIDER_UNKNOWN: {
    status: 404,
    hint: 'Point the SDK at the base URL aibox set (ANTHROPIC_BASE_URL / OPENAI_BASE_URL); other providers must be configured in `llm.providers`.',
  },
  LLM_PLACEHOLDER_MISMATCH: {
    status: 401,
    hint: 'Use the placeholder key aibox put in the sandbox environment; real keys are added by the proxy.',
  },
  LLM_REQUEST_INVALID: {
    status: 400,
    hint: 'Send the provider API request unchanged; the body must be JSON of at most the configured size.',
  },
  LLM_ENDPOINT_NOT_ALLOWED: {
    status: 403,
    hint: 'Only the provider API paths aibox can check are forwarded (messages, chat/completions, responses, embeddings, models, Anthropic message batches); OpenAI batches and file uploads cannot be checked and are refused.',
  },
  LLM_PROVIDER_DENIED: {
    status: 403,
    hint: 'Ask the policy owner to add the provider to llm.allowed_providers.',
  },
  LLM_MODEL_DENIED: {
    status: 403,
    hint: 'Use an allowed model, or ask the policy owner to add this one to llm.allowed_models.',
  },
  LLM_REQUEST_TOO_LARGE: {
    status: 403,
    hint: 'Lower max_tokens to the policy limit llm.limits.max_tokens_per_request.',
  },
  LLM_RATE_LIMITED: {
    status: 429,
    hint: 'Wait and retry: the policy limits requests per minute (llm.limits.requests_per_minute).',
  },
  LLM_BUDGET_EXHAUSTED: {
    status: 429,
    hint: 'The sandbox used its token budget (llm.limits.tokens_per_day); ask the policy owner for more or wait.',
  },
  LLM_CREDENTIAL_UNAVAILABLE: {
    status: 503,
    hint: 'aibox could not obtain the provider key (secret backend down or secret missing); nothing was sent upstream.',
  },
  LLM_UPSTREAM_FAILED: {
    status: 502,
    hint: 'The upstream LLM endpoint could not be reached or failed TLS verification; check `llm.providers.*.upstream` and caFile.',
  },
});
export type LlmProxyErrorCode = keyof typeof llmProxyErrors.catalogue;
