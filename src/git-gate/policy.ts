import { z } from 'zod';
import { newId } from '../shared/index.js';
import { globMatches, globProblem } from './glob.js';

/** A glob checked once when the policy is loaded (see glob.ts for its meaning). */
const Glob = z
  .string()
  .min(1)
  .superRefine((g, ctx) => {
    const problem = globProblem(g);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const RefAction = z.enum(['allow', 'require-approval', 'deny']);
export type RefAction = z.infer<typeof RefAction>;

/**
 * What a sandbox may do with git, as the policy layer hands it over (the Rego policy produces this document).
 * Deny by default: a repository not listed cannot be fetched; a ref no rule matches gets `defaultAction`.
 */
export const GitPolicy = z
  .object({
    repos: z
      .array(
        z
          .object({
            pattern: Glob.describe('Glob over repository names: `*` within a segment, `**` across.'),
            push: z.boolean().default(true).describe('false: clone/fetch only.'),
          })
          .strict(),
      )
      .default([]),
    refs: z
      .array(
        z
          .object({
            pattern: Glob.describe('Glob over full ref names, e.g. refs/heads/main, refs/tags/**.'),
            action: RefAction,
            rule: z.string().optional().describe('Where the rule comes from, quoted in refusals.'),
          })
          .strict(),
      )
      .default([])
      .describe('First matching rule wins.'),
    defaultAction: RefAction.default('deny'),
  })
  .strict();
export type GitPolicy = z.infer<typeof GitPolicy>;
export type GitPolicyInput = z.input<typeof GitPolicy>;

export interface RefDecision {
  readonly id: string;
  readonly action: RefAction;
  /** The rule that decided: its `rule` label, else `refs[i] <pattern>`, else `default`. */
  readonly rule: string;
}

export interface RepoAccess {
  readonly fetch: boolean;
  readonly push: boolean;
}

/** Which of fetch/push the policy grants on a repository (pure). */
export function repoAccess(policy: GitPolicy, repo: string): RepoAccess {
  let fetch = false;
  let push = false;
  for (const r of policy.repos) {
    if (globMatches(r.pattern, repo)) {
      fetch = true;
      push = push || r.push;
    }
  }
  return { fetch, push };
}

/**
 * Decides one ref update (pure except for the fresh decision id). Deleting a ref can never be staged for review, so
 * `require-approval` on a deletion becomes `deny`; refs/aibox/* is the gateway's own namespace and always denied.
 */
export function decideRef(policy: GitPolicy, ref: string, op: 'update' | 'delete'): RefDecision {
  const id = newId('dec');
  if (ref.startsWith('refs/aibox/')) return { id, action: 'deny', rule: 'builtin: refs/aibox/* is reserved' };
  let action = policy.defaultAction;
  let rule = 'default';
  for (const [i, r] of policy.refs.entries()) {
    if (globMatches(r.pattern, ref)) {
      action = r.action;
      rule = r.rule ?? `refs[${i}] ${r.pattern}`;
      break;
    }
  }
  if (op === 'delete' && action === 'require-approval') {
    return { id, action: 'deny', rule: `${rule} (deletions cannot be staged for approval)` };
  }
  return { id, action, rule };
}

/** A per-request decision from the policy layer (the Rego `push` door); its id is what `aibox policy explain` knows. */
export type RefDecider = (ref: string, op: 'update' | 'delete') => Promise<RefDecision>;

const STRICTNESS: Record<RefAction, number> = { allow: 0, 'require-approval': 1, deny: 2 };

/** The stricter of two decisions (tighten-only: a second opinion can never loosen the first). */
export function stricter(a: RefDecision, b: RefDecision): RefDecision {
  return STRICTNESS[b.action] > STRICTNESS[a.action] ? b : a;
}
