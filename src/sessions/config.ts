import { z } from 'zod';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The `sessions:` section of aiboxd.yaml: the opt-in network listener (bearer tokens; TLS when a certificate and
 * key are given), quotas, TTLs, file caps and per-token rate limits.
 */
export const SessionsConfig = z
  .object({
    listener: z
      .object({
        enabled: z.boolean().default(false),
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(7373),
        dashboard: z
          .boolean()
          .default(false)
          .describe(
            'Serve the web dashboard on this listener (log in with an admin token; loopback only unless TLS is set).',
          ),
        authFailures: z
          .object({
            max: z
              .number()
              .int()
              .positive()
              .default(30)
              .describe('Requests without a valid token per address.'),
            windowSeconds: z.number().int().positive().default(60),
          })
          .strict()
          .prefault({})
          .describe('Past this, an address is answered 429 TOKEN_RATE_LIMITED until the window ends.'),
        tls: z
          .object({
            cert: z.string().startsWith('/').describe('PEM certificate chain file.'),
            key: z.string().startsWith('/').describe('PEM private key file (readable by root only).'),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({})
      // Bearer tokens never cross a network in clear text: a non-loopback address needs TLS.
      .refine((l) => !l.enabled || LOOPBACK.has(l.host) || l.tls !== undefined, {
        message: 'a listener on a non-loopback address needs tls.cert and tls.key',
      }),
    defaultProfile: z.string().min(1).default('session'),
    maxPerToken: z.number().int().positive().default(5),
    maxTotal: z.number().int().positive().default(20),
    defaultTtlSeconds: z.number().int().positive().default(3600),
    maxTtlSeconds: z
      .number()
      .int()
      .positive()
      .default(24 * 3600),
    defaultIdleSeconds: z.number().int().positive().default(600),
    maxIdleSeconds: z.number().int().positive().default(3600),
    maxFileBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    maxTarEntries: z.number().int().positive().default(20_000),
    rateLimit: z
      .object({
        max: z.number().int().positive().default(600).describe('Requests per token per window.'),
        windowSeconds: z.number().int().positive().default(60),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type SessionsConfig = z.infer<typeof SessionsConfig>;
