import { z } from 'zod';
import { newId, type Clock } from '../shared/index.js';
import type { LlmProxyErrorCode } from './errors.js';

export const PayloadLogging = z
  .enum(['full', 'metadata'])
  .describe(
    'full: prompts and answers go to the audit log (credentials redacted); metadata: only model, usage, status.',
  );
export type PayloadLogging = z.infer<typeof PayloadLogging>;

const Glob = z.string().regex(/^[A-Za-z0-9._:/@-]*\*?$/, 'a name or a prefix ending in *');

/**
 * The effective LLM policy of one sandbox, as the policy engine computes it from the org/team/project Rego layers
 * (the `llm` door: allowed_providers, allowed_models, limits). Deny by default: an empty list allows nothing.
 */
export const LlmPolicy = z
  .object({
    providers: z.array(Glob).default([]).describe('Allowed provider names (or prefixes ending in *).'),
    models: z
      .array(Glob)
      .default([])
      .describe('Allowed model names (or prefixes ending in *, e.g. claude-*).'),
    limits: z
      .object({
        max_tokens_per_request: z.number().int().positive().optional(),
        requests_per_minute: z.number().int().positive().optional(),
        tokens_per_day: z
          .number()
          .int()
          .positive()
          .optional()
          .describe('Token budget of the sandbox per 24 h.'),
      })
      .strict()
      .default({}),
    payloadLogging: PayloadLogging.optional().describe(
      'Project option: "metadata" keeps prompts out of the log.',
    ),
  })
  .strict();
export type LlmPolicy = z.infer<typeof LlmPolicy>;
export type LlmPolicyInput = z.input<typeof LlmPolicy>;

export interface LlmCallFacts {
  provider: string;
  /** Undefined only for requests that call no model (model list, batch status). */
  model: string | undefined;
  maxTokens: number | undefined;
  /** The call produces tokens: max_tokens must be stated when the policy limits it, and the budget applies. */
  generates?: boolean;
}

/** A request carrying many model calls (a message batch). */
export interface LlmBatchFacts {
  provider: string;
  calls: { model: string; maxTokens: number }[];
}

export interface LlmDecision {
  id: string;
  allow: boolean;
  /** The policy rule that decided, e.g. llm.allowed_models. */
  rule: string;
  reason: string;
  code?: LlmProxyErrorCode;
}

function globMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * Decides each call of one sandbox against its LlmPolicy and keeps the counters that limits need (requests in the
 * last minute, tokens in the last 24 h). The policy can be replaced while the sandbox runs.
 */
export class LlmGate {
  #policy: LlmPolicy;
  readonly #requests: number[] = [];
  readonly #tokens: { at: number; n: number }[] = [];

  constructor(
    policy: LlmPolicy,
    private readonly clock: Clock,
  ) {
    this.#policy = policy;
  }

  get policy(): LlmPolicy {
    return this.#policy;
  }

  setPolicy(policy: LlmPolicy): void {
    this.#policy = policy;
  }

  decide(call: LlmCallFacts): LlmDecision {
    return this.#decide(call.provider, [call], 0);
  }

  /**
   * A batch: every call's model and max_tokens are checked, and the sum of their max_tokens is charged to the
   * budget up front (the usage of a batch is only known when its results are fetched, long after this request).
   */
  decideBatch(batch: LlmBatchFacts): LlmDecision {
    const reserve = batch.calls.reduce((sum, c) => sum + c.maxTokens, 0);
    const calls = batch.calls.map((c) => ({ ...c, generates: true }));
    const d = this.#decide(batch.provider, calls, reserve);
    if (d.allow) this.consume(reserve);
    return d;
  }

  #decide(provider: string, calls: Omit<LlmCallFacts, 'provider'>[], reserve: number): LlmDecision {
    const id = newId('dec');
    const p = this.#policy;
    const now = this.clock.now();
    const deny = (rule: string, code: LlmProxyErrorCode, reason: string): LlmDecision => ({
      id,
      allow: false,
      rule,
      code,
      reason,
    });
    if (!p.providers.some((g) => globMatches(g, provider))) {
      return deny(
        'llm.allowed_providers',
        'LLM_PROVIDER_DENIED',
        `provider ${provider} is not in llm.allowed_providers`,
      );
    }
    const max = p.limits.max_tokens_per_request;
    for (const call of calls) {
      if (call.model !== undefined && !p.models.some((g) => globMatches(g, call.model ?? ''))) {
        return deny(
          'llm.allowed_models',
          'LLM_MODEL_DENIED',
          `model ${call.model} is not in llm.allowed_models`,
        );
      }
      if (max !== undefined && call.maxTokens !== undefined && call.maxTokens > max) {
        return deny(
          'llm.limits.max_tokens_per_request',
          'LLM_REQUEST_TOO_LARGE',
          `max_tokens ${call.maxTokens} exceeds llm.limits.max_tokens_per_request ${max}`,
        );
      }
      if (max !== undefined && call.generates === true && call.maxTokens === undefined) {
        return deny(
          'llm.limits.max_tokens_per_request',
          'LLM_REQUEST_TOO_LARGE',
          `the request states no max_tokens, and llm.limits.max_tokens_per_request is ${max}: state one`,
        );
      }
    }
    prune(this.#requests, (t) => t, now - MINUTE);
    const rpm = p.limits.requests_per_minute;
    if (rpm !== undefined && this.#requests.length >= rpm) {
      return deny(
        'llm.limits.requests_per_minute',
        'LLM_RATE_LIMITED',
        `more than ${rpm} requests in the last minute`,
      );
    }
    const budget = p.limits.tokens_per_day;
    const used = this.tokensLastDay();
    if (budget !== undefined && (used >= budget || used + reserve > budget)) {
      return deny(
        'llm.limits.tokens_per_day',
        'LLM_BUDGET_EXHAUSTED',
        reserve > 0
          ? `the batch may use ${reserve} tokens; ${Math.max(0, budget - used)} of the sandbox's ${budget} tokens for the last 24 h are left`
          : `the sandbox used its ${budget} tokens for the last 24 h`,
      );
    }
    this.#requests.push(now);
    return {
      id,
      allow: true,
      rule: 'llm.allowed_models',
      reason: 'provider and model allowed, within limits',
    };
  }

  /** Counts tokens a finished call used against the budget. */
  consume(tokens: number): void {
    if (tokens > 0) this.#tokens.push({ at: this.clock.now(), n: tokens });
  }

  tokensLastDay(): number {
    prune(this.#tokens, (t) => t.at, this.clock.now() - DAY);
    return this.#tokens.reduce((sum, t) => sum + t.n, 0);
  }
}

function prune<T>(list: T[], at: (t: T) => number, cutoff: number): void {
  while (list.length > 0 && at(list[0] as T) <= cutoff) list.shift();
}
