import { z } from 'zod';
import { SECRET_NAME_PATTERN } from './names.js';

/** Secret names: what `aibox secret set NAME` takes and `llm.providers.*.credential` refers to. */
export const SecretNameParam = z
  .string()
  .regex(
    SECRET_NAME_PATTERN,
    'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters',
  )
  .describe('Name of a secret in the configured backend.');

/** PUT /v1/secrets/:name — the value travels only in this body over the local socket, never in argv or a URL. */
export const SetSecretRequest = z
  .object({
    value: z
      .string()
      .min(1, 'the value is empty')
      .max(64 * 1024, 'the value is larger than 64 KiB')
      .describe('The secret value.'),
  })
  .strict();
export type SetSecretRequest = z.infer<typeof SetSecretRequest>;

export const SecretInfo = z.object({ name: z.string(), updatedAt: z.string() });
export type SecretInfo = z.infer<typeof SecretInfo>;

/** GET /v1/secrets — names and dates only; values are never returned by any route. */
export const SecretList = z.object({
  backend: z.enum(['embedded', 'vault']),
  secrets: z.array(SecretInfo),
});
export type SecretList = z.infer<typeof SecretList>;

export const SecretSetReport = z.object({ name: z.string(), backend: z.enum(['embedded', 'vault']) });
export type SecretSetReport = z.infer<typeof SecretSetReport>;

export const SecretRemovedReport = z.object({ removed: z.string() });
export type SecretRemovedReport = z.infer<typeof SecretRemovedReport>;
