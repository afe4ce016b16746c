import { join } from 'node:path';
import { AuditLog } from '../../audit/index.js';
import type { Clock, Logger } from '../../shared/index.js';
import { systemClock } from '../../shared/index.js';

/** Where the daemon keeps its audit log: `<stateDir>/audit/audit.jsonl` (+ `.head`), mode 0600, owned by root. */
export function auditLogPath(stateDir: string): string {
  return join(stateDir, 'audit', 'audit.jsonl');
}

/**
 * Opens the daemon's one audit log. Fails the daemon's start when the log cannot be opened: aiboxd does not act
 * without a record of what it did.
 */
export async function openAuditLog(
  stateDir: string,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<AuditLog> {
  return AuditLog.open({ path: auditLogPath(stateDir), logger: logger.child({ svc: 'audit' }), clock });
}
