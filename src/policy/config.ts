import { z } from 'zod';

/** The `policy:` section of the daemon config. */
export const PolicyConfig = z
  .object({
    repo: z
      .string()
      .default('')
      .describe(
        'Directory of the policy repo: org/ (Rego + data.yaml) and teams/<team>/; empty: the shipped policies/.',
      ),
    defaultTeam: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/)
      .optional()
      .describe(
        'Team layer of projects the org layer maps to no team (rule data.aibox.org.projects.team); a project file never picks its team.',
      ),
    watch: z
      .boolean()
      .default(true)
      .describe('Reload on edits of the policy repo and project files (hot reload).'),
    debounceMs: z
      .number()
      .int()
      .min(0)
      .max(5000)
      .default(50)
      .describe('Quiet time after an edit before reloading.'),
  })
  .strict();
export type PolicyConfig = z.infer<typeof PolicyConfig>;
