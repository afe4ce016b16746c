import { z } from 'zod';
import { Duration, SecretName } from '../credentials/index.js';
import { PayloadLogging } from './policy.js';

/**
 * `llm.defaultPolicy` was a fallback the policy layer always overrode. It is refused rather than ignored: an operator
 * who wrote a restrictive one would otherwise believe it in force.
 */
export const LLM_DEFAULT_POLICY_REMOVED =
  "llm.defaultPolicy is no longer read: each sandbox's providers, models and limits come from the policy llm door " +
  "only. Move them to the policy repo (the llm door's allowed_providers, allowed_models and limits rules in org/ " +
  "or teams/<team>/ Rego) or a project's aibox/policy.yaml (llm.providers, llm.models, llm.limits): docs/policy.md, " +
  '"Doors". Then remove llm.defaultPolicy from aiboxd.yaml.';

export const LlmDialect = z
  .enum(['anthropic', 'openai'])
  .describe('API shape: how the key is sent, errors, usage.');
export type LlmDialect = z.infer<typeof LlmDialect>;

export const LlmProviderConfig = z
  .object({
    dialect: LlmDialect.optional().describe(
      'Defaults to the provider name when it is "anthropic" or "openai".',
    ),
    upstream: z
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'an http(s) URL')
      .describe('The provider or a corporate LLM gateway, e.g. https://api.anthropic.com.'),
    credential: SecretName.describe('Name of the secret (embedded store or Vault) holding the API key.'),
    caFile: z
      .string()
      .optional()
      .describe(
        'PEM CA bundle to verify the upstream with (corporate gateways, tests); TLS is always verified.',
      ),
    timeout: Duration.prefault('10m').describe('Longest a call (including a stream) may take.'),
  })
  .strict();
export type LlmProviderConfig = z.infer<typeof LlmProviderConfig>;

export const LlmConfig = z
  .object({
    providers: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/), LlmProviderConfig)
      .default({})
      .describe('Providers the proxy can forward to, by name (the URL prefix inside the sandbox).'),
    listenHost: z.string().default('127.0.0.1').describe('Host address the per-sandbox proxies listen on.'),
    sandboxHost: z
      .string()
      .default('10.0.2.2')
      .describe("The host's loopback as seen from inside a rootless sandbox (slirp4netns)."),
    payloadLogging: PayloadLogging.default('full'),
    defaultPolicy: z
      .unknown()
      .optional()
      .superRefine((value, ctx) => {
        if (value !== undefined) ctx.addIssue({ code: 'custom', message: LLM_DEFAULT_POLICY_REMOVED });
      })
      .describe('Removed: refused with a message saying where its rules went.'),
    maxRequestBytes: z
      .number()
      .int()
      .positive()
      .default(32 * 1024 * 1024)
      .describe('Largest request body accepted.'),
    maxLoggedPayloadBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024)
      .describe('Request/response bytes kept in each audit record; the rest is marked truncated.'),
  })
  .strict();
export type LlmConfig = z.infer<typeof LlmConfig>;
export type LlmConfigInput = z.input<typeof LlmConfig>;

export function dialectOf(name: string, provider: LlmProviderConfig): LlmDialect {
  if (provider.dialect) return provider.dialect;
  if (name === 'anthropic' || name === 'openai') return name;
  return 'openai';
}
