import { z } from 'zod';

/** The companions section of aiboxd.yaml: how companion services are watched and restarted. */
export const CompanionsConfig = z
  .object({
    checkSeconds: z
      .number()
      .min(0.5)
      .max(300)
      .default(3)
      .describe(
        "How often each running companion service is checked (one process list from its sandbox's exec agent): the longest a dead service goes unnoticed.",
      ),
    maxRestarts: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(5)
      .describe(
        'A service with restart: on-failure is restarted at most this many times within restartWindowSeconds (backoff 1 s, 2 s, 4 s … up to 30 s), then it is failed.',
      ),
    restartWindowSeconds: z.number().int().min(10).max(86_400).default(600),
  })
  .strict();
export type CompanionsConfig = z.infer<typeof CompanionsConfig>;
