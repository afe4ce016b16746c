import type { FastifyRequest } from 'fastify';
import type { AuditLog } from '../../audit/index.js';
import { newId } from '../../shared/index.js';
import type { ErrorAnswer } from './contract.js';

/**
 * Refusals that are attempts on something the caller may not have, and so belong in the audit log: any 401/403
 * (a caller acting on another user's sandbox, a route for root only, a gateway without its key) and the refusals of
 * hostile workspace input (links, swapped folders, unsafe git metadata or policy files).
 */
const HOSTILE_INPUT_CODES =
  /^(SANDBOX_PATH_|RUNTIME_MOUNT_REFUSED|GIT_METADATA_UNSAFE|TASK_WORKTREE_INVALID|POLICY_PROJECT_|SESSION_PATH_ESCAPE|SESSION_TAR_ENTRY_REFUSED)/;

export function isAuditedRefusal(answer: ErrorAnswer): boolean {
  const { status, payload } = answer;
  if (status === 401 || status === 403) return true;
  return status >= 400 && status < 500 && HOSTILE_INPUT_CODES.test(payload.error.code);
}

/**
 * Writes a refused attempt to the audit log under a fresh decision id and returns the answer carrying that id (so
 * `aibox policy explain --log-entry <id>` and the audit trail find it). Refusals that already carry a decision id
 * (policy denials) were audited where they were decided and are returned unchanged.
 */
export async function auditRefusal(
  audit: AuditLog,
  request: FastifyRequest,
  answer: ErrorAnswer,
): Promise<ErrorAnswer> {
  if (!isAuditedRefusal(answer) || answer.payload.error.details?.decisionId !== undefined) return answer;
  const decisionId = newId('dec');
  const params = (request.params ?? {}) as Record<string, unknown>;
  await audit.append({
    kind: 'api.refused',
    id: decisionId,
    ...(typeof params.name === 'string' ? { sandbox: params.name } : {}),
    data: {
      code: answer.payload.error.code,
      status: answer.status,
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0],
      callerUid: request.caller?.uid,
      reason: answer.payload.error.message,
    },
  });
  const error = { ...answer.payload.error, details: { ...answer.payload.error.details, decisionId } };
  return { status: answer.status, payload: { error } };
}
