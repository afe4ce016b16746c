import { z } from 'zod';
import { PUSH_ID_PATTERN } from './names.js';

export { PUSH_ID_PATTERN };
export const PushId = z
  .string()
  .regex(PUSH_ID_PATTERN, 'a push id like push_3f9a0c1d2e4b')
  .describe('Push id.');

export const PushStateName = z.enum(['pending', 'approved', 'rejected', 'conflict']);
export type PushStateName = z.infer<typeof PushStateName>;

/** A gated push as `aibox push status` lists it. */
export const PushReport = z.object({
  id: z.string(),
  sandbox: z.string(),
  repo: z.string(),
  ref: z.string().describe('Target ref the agent pushed to, e.g. refs/heads/main.'),
  stagingRef: z.string().describe('Where the commits wait upstream: refs/aibox/staging/<sandbox>/<id>.'),
  commit: z.string().describe('The commit staged now.'),
  base: z.string().optional(),
  state: PushStateName,
  decisionId: z.string(),
  rule: z.string(),
  reviewedCommit: z
    .string()
    .optional()
    .describe('The commit the last `push show` presented; approval is bound to it.'),
  reason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type PushReport = z.infer<typeof PushReport>;

export const PushList = z.object({ pushes: z.array(PushReport) });
export type PushList = z.infer<typeof PushList>;

export const PushListQuery = z
  .object({
    state: PushStateName.optional(),
    sandbox: z.string().min(1).max(63).optional(),
  })
  .strict();
export type PushListQuery = z.infer<typeof PushListQuery>;

/** What a reviewer sees: the commits the push adds to the target and their diff. Showing records the review. */
export const PushShowReport = z.object({
  push: PushReport,
  target: z.string().optional().describe('The target ref now (absent: the push creates it).'),
  commits: z.array(z.object({ sha: z.string(), author: z.string(), subject: z.string() })),
  stat: z.string(),
  diff: z.string(),
  diffTruncated: z.boolean(),
});
export type PushShowReport = z.infer<typeof PushShowReport>;

export const ApprovePushRequest = z
  .object({
    commit: z
      .string()
      .regex(/^[0-9a-f]{7,40}$/, 'a commit id (7 to 40 hex digits)')
      .optional()
      .describe('The commit you reviewed; default: the one the last `push show` presented.'),
  })
  .strict();
export type ApprovePushRequest = z.infer<typeof ApprovePushRequest>;

export const RejectPushRequest = z
  .object({ reason: z.string().max(2000).optional().describe('Told to whoever reads the push status.') })
  .strict();
export type RejectPushRequest = z.infer<typeof RejectPushRequest>;
