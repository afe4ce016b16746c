export { sessionErrors } from './errors.js';
export { workspaceSegments, displayPath, WORKSPACE_MOUNT } from './paths.js';
export { WorkspaceFs, type WorkspaceFsOptions, type ByteBudget, type WalkEntry } from './workspace-fs.js';
export { extractTar, packTar, entrySegments, type TarCaps, type TarReport } from './tar.js';
export { SessionLedger, type SessionLimits, type LedgerEntry, type ExpiryReason } from './ledger.js';
export { SessionsConfig } from './config.js';
export { createSessionMetrics, type SessionMetrics } from './metrics.js';
export { SessionService, type SessionBackend, type SessionActor } from './service.js';
export type { SessionApi } from './api.js';
