import { z } from 'zod';

/** One profile's warm pool: how many sandboxes are kept started, and for how long at most. */
export const PoolProfileConfig = z
  .object({
    size: z.number().int().min(0).max(32).describe('Sandboxes kept started and unclaimed (0: no pool).'),
    maxAgeSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600)
      .describe('A pooled sandbox older than this is removed and replaced (it never ran anything).'),
  })
  .strict();

/**
 * Sandboxes without a host project folder (`POST /v1/sandboxes` without `path`, sessions) and the warm pool that
 * pre-starts them (the `pool:` section of aiboxd.yaml).
 */
export const PoolConfig = z
  .object({
    workspaceMiB: z
      .number()
      .int()
      .min(16)
      .max(65_536)
      .default(1024)
      .describe(
        'Size cap of the workspace of a sandbox without a host folder: a tmpfs of this size (host memory, ' +
          'swappable), made for the sandbox and removed with it.',
      ),
    profiles: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/), PoolProfileConfig)
      .default({})
      .describe('Warm pool per security profile, e.g. { session: { size: 2, maxAgeSeconds: 3600 } }.'),
  })
  .strict();
export type PoolConfig = z.infer<typeof PoolConfig>;
