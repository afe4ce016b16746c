import { z } from 'zod';
import type { GitPolicy } from './policy.js';

/**
 * `git.policy` used to decide pushes beside the policy layer. It is refused rather than ignored: ignoring it would
 * silently drop the restrictions it wrote (read-only repositories, denied refs).
 */
export const GIT_POLICY_REMOVED =
  'git.policy is no longer read: push decisions come from the policy push door only. Move ref rules to the policy ' +
  "repo (org/push.rego, data.yaml push.protected) or a project's aibox/policy.yaml (push.approve, push.deny); make a " +
  'repository fetch-only with `push: false` on its git.repos entry; a repository sandboxes must not reach is not ' +
  'listed in git.repos. Then remove git.policy from aiboxd.yaml.';

/** Repository names as they appear in gateway URLs: `acme/widgets` is served at `/acme/widgets.git`. */
export const REPO_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

export const RepoName = z
  .string()
  .regex(REPO_NAME_PATTERN, 'path segments of letters, digits, ".", "_" and "-", not starting with "."')
  .refine((n) => !n.split('/').some((s) => s === '..' || s.endsWith('.git')), 'no ".." and no ".git" suffix')
  .describe('Repository name as the sandbox sees it: served at http://<gateway>/<name>.git');

export const UpstreamRepo = z
  .object({
    name: RepoName,
    upstream: z
      .string()
      .min(1)
      .refine(
        (u) => !/^[a-z+]+:\/\/[^/]*@/i.test(u),
        'put credentials in the credential store, not in the URL',
      )
      .describe('URL (https://, http://, ssh-less file path) of the real repository the gateway talks to.'),
    credential: z
      .string()
      .min(1)
      .optional()
      .describe('Name of the credential (a token) the gateway sends upstream; the sandbox never sees it.'),
    username: z
      .string()
      .min(1)
      .default('x-access-token')
      .describe('User name sent with the credential in HTTP basic auth (GitHub: x-access-token).'),
    push: z
      .boolean()
      .default(true)
      .describe(
        'false: sandboxes may clone and fetch it but never push. Which refs a push may update is the policy push door.',
      ),
  })
  .strict();
export type UpstreamRepo = z.infer<typeof UpstreamRepo>;

export const NotificationsConfig = z
  .object({
    dir: z.string().min(1).optional().describe('Folder where one JSON file per notification is written.'),
    command: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'argv run for each notification, the notification JSON on its stdin (e.g. ["notify-send-wrapper"]).',
      ),
    webhook: z.url().optional().describe('URL that receives each notification as a JSON POST.'),
    timeoutMs: z.number().int().positive().default(5000).describe('Limit for the command and the webhook.'),
  })
  .strict();
export type NotificationsConfig = z.infer<typeof NotificationsConfig>;

export const GitGateConfig = z
  .object({
    repos: z
      .array(UpstreamRepo)
      .default([])
      .describe('Repositories the gateway can serve (policy narrows per sandbox).'),
    bindHost: z
      .string()
      .default('127.0.0.1')
      .refine(
        (h) => h === '127.0.0.1' || h === '::1' || h === 'localhost',
        'the gateway listens on loopback only',
      )
      .describe('Host address the per-sandbox gateway listeners bind to.'),
    sandboxHost: z
      .string()
      .default('10.0.2.2')
      .describe("The host's loopback as seen from inside a rootless sandbox (slirp4netns)."),
    maxPushMiB: z
      .number()
      .int()
      .positive()
      .max(64 * 1024)
      .default(1024)
      .describe(
        'Largest pack a sandbox may push (receive.maxInputSize of the mirrors), so a push cannot fill the disk.',
      ),
    notifications: NotificationsConfig.default({ timeoutMs: 5000 }),
    policy: z
      .unknown()
      .optional()
      .superRefine((value, ctx) => {
        if (value !== undefined) ctx.addIssue({ code: 'custom', message: GIT_POLICY_REMOVED });
      })
      .describe('Removed: refused with a message saying where its rules went.'),
    worktrees: z
      .object({
        root: z
          .string()
          .optional()
          .describe('Folder holding task worktrees; default: <repo>.worktrees next to the repository.'),
        branchPrefix: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]*$/, 'one ref path segment')
          .default('task')
          .describe(
            'Task branches are <prefix>/<slug>; only refs/heads/<prefix>/ is writable from a sandbox.',
          ),
      })
      .strict()
      .default({ branchPrefix: 'task' }),
  })
  .strict();
export type GitGateConfig = z.infer<typeof GitGateConfig>;

/**
 * What every sandbox may do with the configured repositories: clone/fetch each one listed, push unless it says
 * `push: false`. Local ref rules allow everything but the gateway's own namespace: which refs a push may update is
 * decided by the policy push door (the stricter of the two wins, so this never loosens it).
 */
export function repoPolicyOf(config: Pick<GitGateConfig, 'repos'>): GitPolicy {
  return {
    repos: config.repos.map((r) => ({ pattern: r.name, push: r.push })),
    refs: [],
    defaultAction: 'allow',
  };
}
