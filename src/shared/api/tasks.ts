import { z } from 'zod';
import { TASK_NAME_PATTERN } from './names.js';

export { TASK_NAME_PATTERN };
export const TaskName = z
  .string()
  .regex(TASK_NAME_PATTERN, 'a task name (its slug), e.g. feature-123-user-auth');

export const CreateTaskRequest = z
  .object({
    repo: z
      .string()
      .startsWith('/')
      .describe('Absolute host path of the git repository (any folder inside it).'),
    description: z
      .string()
      .min(1)
      .max(500)
      .describe('What the task is; its slug names the branch and worktree.'),
    base: z.string().min(1).max(256).optional().describe('Commit or branch to start from (default HEAD).'),
    sandbox: z.boolean().default(true).describe('Start a sandbox on the new worktree.'),
    profile: z.string().min(1).optional().describe('Security profile of the sandbox.'),
  })
  .strict();
export type CreateTaskRequest = z.infer<typeof CreateTaskRequest>;

export const TaskReport = z.object({
  name: z.string(),
  description: z.string(),
  repo: z.string(),
  branch: z.string(),
  worktree: z.string(),
  base: z.string(),
  state: z.enum(['active', 'completed']),
  sandbox: z.string().optional(),
  createdAt: z.string(),
  completedAt: z.string().optional(),
});
export type TaskReport = z.infer<typeof TaskReport>;

export const TaskList = z.object({ tasks: z.array(TaskReport) });
export type TaskList = z.infer<typeof TaskList>;

export const RemoveTaskQuery = z
  .object({
    deleteBranch: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    force: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
  })
  .strict();
export type RemoveTaskQuery = z.infer<typeof RemoveTaskQuery>;
