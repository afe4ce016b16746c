import { z } from 'zod';
import type { LayerVerdict, LayerView, Location } from '../types.js';
import { verdictOf } from './common.js';
import type { Door } from './door.js';

export const PushRequest = z
  .object({
    ref: z.string().min(1).describe('Target ref, e.g. refs/heads/main.'),
    remote: z.string().optional(),
    force: z.boolean().default(false),
    commits: z.number().int().nonnegative().optional(),
  })
  .strict()
  .transform((r) => ({ ...r, branch: r.ref.replace(/^refs\/heads\//, '') }));
export type PushRequest = z.infer<typeof PushRequest>;

const Decision = z.enum(['allow', 'approve', 'deny']);

export interface EffectivePush {
  /** push.decision is evaluated per branch; these are the branch globs the project adds. */
  projectApprove: string[];
  projectDeny: string[];
}

export const pushDoor: Door<PushRequest, EffectivePush> = {
  name: 'push',
  summary: 'git push: allow, require approval, or deny, per branch (strictest layer wins)',
  request: PushRequest,
  effective(layers) {
    const project = layers.find((l) => l.layer === 'project');
    const approve = (project?.static('push', 'approve')?.value as string[] | undefined) ?? [];
    const deny = (project?.static('push', 'deny')?.value as string[] | undefined) ?? [];
    return { value: { projectApprove: approve, projectDeny: deny }, conflicts: [] };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

function verdict(req: PushRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  let approve: { verdict: 'approve'; reason: string; loc: Location } | undefined;
  const decision = layer.query('push', 'decision', req);
  if (decision) {
    const d = Decision.safeParse(decision.value);
    if (!d.success) {
      failures.push({
        reason: `${layer.layer}'s push.decision produced ${JSON.stringify(decision.value)}, not allow|approve|deny`,
        loc: decision.loc,
      });
    } else if (d.data === 'deny') {
      failures.push({
        reason: `${layer.layer}'s push.decision denies pushing to ${req.branch}`,
        loc: decision.loc,
      });
    } else if (d.data === 'approve') {
      approve = { verdict: 'approve', reason: `pushing to ${req.branch} needs approval`, loc: decision.loc };
    } else passes.push(decision.loc);
  } else if (layer.layer === 'org') {
    failures.push({
      reason: `layer org defines no push.decision for ${req.branch} (deny by default)`,
      loc: { rule: 'data.aibox.org.push.decision' },
    });
  }
  for (const d of layer.denials('push', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes, approve);
}
