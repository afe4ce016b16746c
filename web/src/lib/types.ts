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
  EgressDecisionList,
} from '../../../src/shared/api/index.js';
import type { EgressDecisionList } from '../../../src/shared/api/index.js';

/** One egress request as GET /v1/egress/decisions and the live `egress` events give it. */
export type EgressRequest = EgressDecisionList['decisions'][number];

/** What GET /dashboard/session answers: who is logged in, and the CSRF token of this session. */
export interface DashboardSession {
  subject: string;
  csrf: string;
  expiresAt?: string;
}
