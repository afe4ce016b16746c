import { z } from 'zod';

export const RuntimeConfig = z
  .object({
    mode: z
      .enum(['rootless', 'rootful'])
      .describe(
        'rootless runs Podman as `user` (default); rootful is for hosts where user namespaces cannot work.',
      ),
    user: z.string().min(1).describe('Unprivileged host user that runs rootless Podman.'),
    runsc: z
      .string()
      .startsWith('/')
      .describe('Path of the gVisor runsc binary (trixie release, see setup).'),
    podman: z.string().startsWith('/'),
    mountsDir: z.string().startsWith('/').describe('Where per-sandbox idmapped workspace mounts are made.'),
    image: z.object({
      name: z.string().min(1),
      suite: z.string().min(1),
      mirror: z.url(),
      cacheDir: z.string().startsWith('/'),
    }),
    sandboxUid: z
      .number()
      .int()
      .min(1000)
      .max(60000)
      .describe('uid of the non-root user inside every sandbox (never 0).'),
    stopTimeoutSeconds: z.number().int().min(0).max(60),
  })
  .strict();
export type RuntimeConfig = z.infer<typeof RuntimeConfig>;
