import { z } from 'zod';

/** The packs section of aiboxd.yaml. */
export const PacksConfig = z
  .object({
    registryDir: z
      .string()
      .refine((d) => d === '' || d.startsWith('/'), 'an absolute path, or empty')
      .default('')
      .describe(
        'Folder of the pack manifests (one NAME.yaml each); empty means the pack-registry/ folder shipped with aibox. Operator-owned: its manifests decide what packs fetch and which credentials they may be given.',
      ),
  })
  .strict();
export type PacksConfig = z.infer<typeof PacksConfig>;
