import { z } from 'zod';
import { checkHostPattern } from '../policy/patterns.js';
import { ProposalReport } from '../shared/api/proposals.js';

export * from '../shared/api/proposals.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** A host name or `*.domain`, normalised (lower case, no trailing dot); `*`, `*.com` and IP literals refused. */
const ProposedHost = z
  .string()
  .max(253)
  .transform((raw, ctx) => {
    const checked = checkHostPattern(raw);
    if (!checked.ok) {
      ctx.addIssue({ code: 'custom', message: `${raw}: ${checked.reason}` });
      return z.NEVER;
    }
    return checked.value;
  });

/** What the agent sends from inside the sandbox. Nothing in it says who sends it: the listener it reached does. */
export const ProposalSubmission = z
  .object({
    host: ProposedHost,
    port: z.number().int().min(1).max(65535).default(443),
    methods: z
      .array(
        z
          .string()
          .transform((m) => m.toUpperCase())
          .pipe(z.enum(METHODS)),
      )
      .max(METHODS.length)
      .optional(),
    paths: z
      .array(
        z
          .string()
          .max(512)
          .regex(/^\/[\x21-\x7e]*$/, 'a path starting with / (printable ASCII, no spaces)'),
      )
      .max(32)
      .optional(),
    // Shown on a person's terminal: no control characters (escape sequences could dress up the review).
    reason: z
      .string()
      .trim()
      .min(1)
      .max(1000)
      // eslint-disable-next-line no-control-regex -- refusing control characters is the point
      .regex(/^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$/, 'no control characters'),
  })
  .strict();
export type ProposalSubmission = z.infer<typeof ProposalSubmission>;

/** A stored proposal (the daemon's state dir, one JSON file each): the wire view plus what stays inside. */
export const ProposalRecord = ProposalReport.extend({
  sandboxId: z.string(),
  /** Host path of the project folder when the sandbox has one (its aibox/policy.yaml is what approval edits). */
  projectPath: z.string().optional(),
});
export type ProposalRecord = z.infer<typeof ProposalRecord>;

export function proposalReport(r: ProposalRecord): ProposalReport {
  const { projectPath: _p, sandboxId: _s, ...rest } = r;
  return rest;
}
