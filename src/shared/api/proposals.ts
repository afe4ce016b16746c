import { z } from 'zod';

/**
 * The wire contract of agent-proposed policy (`aibox policy proposals`) and learn mode (`aibox egress learn`).
 * What the agent sends from inside its sandbox (ProposalSubmission) is validated in src/proposals/schema.ts.
 */

/** `prp_…`: what the agent gets back and what `aibox policy proposals approve|reject` takes. */
export const PROPOSAL_ID_PATTERN = /^prp_[0-9a-f]{12}$/;
export const ProposalId = z.string().regex(PROPOSAL_ID_PATTERN, 'a proposal id (prp_ and 12 hex digits)');

export const ProposalState = z.enum(['pending', 'approved', 'rejected', 'allowed']);
export type ProposalState = z.infer<typeof ProposalState>;

/** How a proposal ended: by a person, by the org/team ceiling, or because the policy already allowed it. */
export const ProposalResolution = z.object({
  by: z.enum(['human', 'ceiling', 'policy']),
  at: z.string(),
  /** Why (a rejection's reason, the ceiling's reason). The agent reads it back. */
  reason: z.string().optional(),
  /** The layer that forbids it (org, team:<team>) for a ceiling rejection. */
  layer: z.string().optional(),
  /** file:line of the forbidding rule, when known. */
  rule: z.string().optional(),
  /** Host uid of the person who approved or rejected. */
  uid: z.number().int().optional(),
  /** The egress decision made after the change (approve) or that forbade it (ceiling). */
  decisionId: z.string().optional(),
  /** What approving changed in aibox/policy.yaml (`network.allow += host`, `network.ports += 8443`). */
  changes: z.array(z.string()).optional(),
});
export type ProposalResolution = z.infer<typeof ProposalResolution>;

/** A proposal as the API and the agent's endpoint show it (no host path, no sandbox id). */
export const ProposalReport = z.object({
  id: ProposalId,
  sandbox: z.string(),
  host: z.string(),
  port: z.number().int(),
  methods: z.array(z.string()).optional(),
  paths: z.array(z.string()).optional(),
  reason: z.string(),
  state: ProposalState,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The egress decision the policy made for this destination when it was proposed. */
  decisionId: z.string(),
  resolution: ProposalResolution.optional(),
});
export type ProposalReport = z.infer<typeof ProposalReport>;

export const ProposalList = z.object({ proposals: z.array(ProposalReport) });
export type ProposalList = z.infer<typeof ProposalList>;

export const ProposalListQuery = z
  .object({ sandbox: z.string().min(1).max(128).optional(), state: ProposalState.optional() })
  .strict();
export type ProposalListQuery = z.infer<typeof ProposalListQuery>;

export const RejectProposalRequest = z.object({ reason: z.string().trim().min(1).max(1000) }).strict();
export type RejectProposalRequest = z.infer<typeof RejectProposalRequest>;

/** `POST …/egress/learn`: how long to observe. */
export const LearnRequest = z
  .object({
    seconds: z
      .number()
      .int()
      .min(5)
      .max(4 * 3600),
  })
  .strict();
export type LearnRequest = z.infer<typeof LearnRequest>;

/** One destination a learn run saw. */
export const LearnedHost = z.object({
  host: z.string(),
  ports: z.array(z.number().int()),
  methods: z.array(z.string()),
  paths: z.array(z.string()),
  /** Requests or queries seen. */
  count: z.number().int(),
  /** Whether the policy in force allowed it, or only learn mode let it through. */
  allowedBefore: z.boolean(),
  /** Above the org/team ceiling: the project file cannot allow it (the layer that forbids it). */
  forbiddenBy: z.string().optional(),
});
export type LearnedHost = z.infer<typeof LearnedHost>;

export const LearnReport = z.object({
  sandbox: z.string(),
  state: z.enum(['running', 'done', 'failed']),
  startedAt: z.string(),
  until: z.string(),
  hosts: z.array(LearnedHost),
  /** Proposed new aibox/policy.yaml and its unified diff against the current one (when done). */
  proposed: z.string().optional(),
  diff: z.string().optional(),
  error: z.string().optional(),
});
export type LearnReport = z.infer<typeof LearnReport>;
