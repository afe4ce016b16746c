import type { z } from 'zod';
import { egressErrors } from './errors.js';
import { EgressPolicy } from './policy.js';

/**
 * The sandbox's EgressPolicy is built from policy's effective egress (org -> team -> project, see
 * daemon/services/policy.ts egressPolicyInput) plus the daemon's egress settings. aibox/policy.yaml has one schema,
 * policy's (src/policy/project.ts); nothing here reads it.
 */

/** Validates a policy object, turning zod's issues into EGRESS_POLICY_INVALID naming the entry and the reason. */
export function buildEgressPolicy(input: z.input<typeof EgressPolicy>): EgressPolicy {
  const parsed = EgressPolicy.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error, 'egress policy');
  return parsed.data;
}

function invalid(error: z.ZodError, where: string) {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  return egressErrors.create(
    'EGRESS_POLICY_INVALID',
    `${where}: ${first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid'}`,
    { issues },
  );
}
