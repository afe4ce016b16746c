// The wire types the dashboard reads: the same zod-derived types the CLI uses (types only, nothing bundled).
export type {
  SandboxReport,
  PushReport,
  PushShowReport,
  AuditRecordJson,
  AuditVerifyReport,
  AuditExportBundle,
  PolicyDecision,
  PolicyShowReport,
  LayerVerdictJson,
  InstalledPackReport,
  ExecControlMessage,
} from '../../../src/shared/api/index.js';

/** What GET /dashboard/session answers: who is logged in, and the CSRF token of this session. */
export interface DashboardSession {
  subject: string;
  csrf: string;
  expiresAt?: string;
}
