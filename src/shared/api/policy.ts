import { z } from 'zod';

/** Enforcement points policy decides for. */
export const PolicyDoor = z.enum([
  'egress',
  'mounts',
  'exec',
  'push',
  'llm',
  'packs',
  'limits',
  'credentials',
  'containers',
]);
export type PolicyDoor = z.infer<typeof PolicyDoor>;

export const PolicyRuleRef = z.object({
  rule: z.string().describe('Rego ref (data.aibox.org.egress.allow_domains) or aibox/policy.yaml key.'),
  at: z.string().optional().describe('file:line of the rule or key.'),
});

export const LayerVerdictJson = z.object({
  layer: z.string().describe('org, team:<team> or project'),
  verdict: z.enum(['allow', 'approve', 'deny', 'abstain']),
  reason: z.string(),
  rules: z.array(PolicyRuleRef),
});
export type LayerVerdictJson = z.infer<typeof LayerVerdictJson>;

/** One policy decision, as recorded in the audit log (kind `decision`) and returned by explain. */
export const PolicyDecision = z.object({
  id: z.string().describe('dec_…: printed in 403 bodies and errors, looked up with `aibox policy explain`.'),
  ts: z.string(),
  door: PolicyDoor,
  sandbox: z.string().optional(),
  request: z.record(z.string(), z.unknown()),
  outcome: z.enum(['allow', 'approve', 'deny']),
  reason: z.string().describe('The deciding reason, one sentence.'),
  layers: z.array(LayerVerdictJson),
  effective: z.unknown().describe('The effective policy of this door for this sandbox.'),
  revision: z.string().describe('Content hash of the policy repo the decision was made under.'),
});
export type PolicyDecision = z.infer<typeof PolicyDecision>;

export const PolicyError = z.object({
  scope: z.string().describe('repo, or sandbox:<name> for a project file'),
  code: z.string(),
  message: z.string(),
  hint: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
  at: z.string().describe('When the error was seen.'),
});
export type PolicyError = z.infer<typeof PolicyError>;

/** `aibox policy show`: the effective policy per door, the layers it came from, and any pending load error. */
export const PolicyShowReport = z.object({
  sandbox: z.string().optional(),
  revision: z.string().optional(),
  loadedAt: z.string().optional(),
  team: z.string().optional(),
  layers: z.array(z.string()),
  doors: z.record(z.string(), z.unknown()),
  /** Errors of the last reload attempts: the last good policy stays in force meanwhile. */
  errors: z.array(PolicyError),
});
export type PolicyShowReport = z.infer<typeof PolicyShowReport>;

export const PolicyShowQuery = z.object({ sandbox: z.string().optional() }).strict();

export const PolicyDecideRequest = z
  .object({
    door: PolicyDoor,
    sandbox: z.string().optional(),
    request: z.record(z.string(), z.unknown()),
  })
  .strict();
export type PolicyDecideRequest = z.infer<typeof PolicyDecideRequest>;
