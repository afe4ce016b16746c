import { z } from 'zod';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as `90s`, `30m`, `4h`, `1d` or a number of seconds; parsed to milliseconds. */
export const Duration = z
  .union([
    z.number().int().positive(),
    z.string().regex(DURATION, 'a duration like "90s", "30m", "4h" or "1d"'),
  ])
  .transform((v) => {
    if (typeof v === 'number') return v * 1_000;
    const m = DURATION.exec(v);
    return Number(m?.[1]) * (UNIT_MS[m?.[2] ?? 's'] ?? 1_000);
  });

export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const SecretName = z
  .string()
  .regex(
    SECRET_NAME_PATTERN,
    'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters',
  );

export const CredentialKind = z
  .enum(['llm', 'git', 'package-mirror', 'generic'])
  .describe('What the credential is for; chooses its default TTL.');
export type CredentialKind = z.infer<typeof CredentialKind>;

export const CredentialTtls = z
  .object({
    git: Duration.prefault('4h').describe('How long a git credential is used before it is fetched again.'),
    llm: Duration.prefault('8h').describe('How long an LLM API key is used before it is fetched again.'),
    'package-mirror': Duration.prefault('8h').describe(
      'How long a package-mirror token is used before it is fetched again.',
    ),
    generic: Duration.prefault('8h').describe('TTL for credentials of no particular kind.'),
  })
  .strict()
  .describe('Default lifetimes when the backend gives no lease duration (KV v2 never does).');
export type CredentialTtls = z.infer<typeof CredentialTtls>;

const VaultTokenAuth = z
  .object({
    method: z.literal('token'),
    tokenFile: z
      .string()
      .min(1)
      .describe('File holding the Vault token (mode 0600); never put the token in the config.'),
  })
  .strict();

const VaultAppRoleAuth = z
  .object({
    method: z.literal('approle'),
    roleId: z.string().min(1).describe('AppRole role_id (not secret on its own).'),
    secretIdFile: z.string().min(1).describe('File holding the AppRole secret_id (mode 0600).'),
    mount: z.string().min(1).default('approle').describe('Mount path of the AppRole auth method.'),
  })
  .strict();

export const VaultSecretMapping = z
  .object({
    engine: z
      .enum(['kv2', 'logical'])
      .default('kv2')
      .describe(
        'kv2: read <kvMount>/data/<path>; logical: read <path> as is (dynamic/leased secrets, KV v1).',
      ),
    path: z.string().min(1).optional().describe('Path of the secret; defaults to <pathPrefix><name>.'),
    field: z.string().min(1).optional().describe('Field holding the value; defaults to vault.field.'),
    kind: CredentialKind.optional(),
  })
  .strict();
export type VaultSecretMapping = z.infer<typeof VaultSecretMapping>;

export const VaultConfig = z
  .object({
    address: z.url().describe('Vault address, e.g. https://vault.example.com:8200.'),
    namespace: z.string().optional().describe('Vault Enterprise namespace.'),
    caFile: z
      .string()
      .optional()
      .describe('PEM CA bundle to verify Vault with (corporate CAs); TLS is always verified.'),
    auth: z.discriminatedUnion('method', [VaultTokenAuth, VaultAppRoleAuth]),
    kvMount: z.string().min(1).default('secret').describe('Mount path of the KV v2 engine.'),
    pathPrefix: z.string().default('aibox/').describe('Prefix of secret paths inside the KV mount.'),
    field: z.string().min(1).default('value').describe('Field of the KV entry that holds the secret value.'),
    secrets: z
      .record(SecretName, VaultSecretMapping)
      .default({})
      .describe('Per-secret overrides: engine, path, field, kind.'),
    refreshFraction: z
      .number()
      .min(0.1)
      .max(0.95)
      .default(0.75)
      .describe('Renew tokens and refresh credentials when this fraction of their TTL has passed.'),
    checkInterval: Duration.prefault('15s').describe(
      'How often the renewal loop looks for due tokens and credentials.',
    ),
    requestTimeout: Duration.prefault('5s').describe('Timeout of every Vault request.'),
  })
  .strict();
export type VaultConfig = z.infer<typeof VaultConfig>;

export const CredentialsConfig = z
  .object({
    vault: VaultConfig.optional().describe(
      'Use HashiCorp Vault; without it the embedded encrypted store is used.',
    ),
    embedded: z
      .object({
        dir: z
          .string()
          .optional()
          .describe('Directory of the embedded store; defaults to <stateDir>/secrets.'),
      })
      .strict()
      .prefault({}),
    ttl: CredentialTtls.prefault({}),
    kinds: z
      .record(SecretName, CredentialKind)
      .default({})
      .describe('Kind of each secret name when callers do not say (chooses its TTL).'),
  })
  .strict();
export type CredentialsConfig = z.infer<typeof CredentialsConfig>;
export type CredentialsConfigInput = z.input<typeof CredentialsConfig>;
