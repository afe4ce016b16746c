// The append-only, hash-chained audit log. See docs/policy.md ("Audit log").
export { AuditLog, verifyFile } from './log.js';
export type { AuditLogOptions, VerifyReport, VerifyProblem, TailQuery, ExportBundle } from './log.js';
export { AuditRecord, AuditEntry, hashRecord, recordLine } from './record.js';
export { canonicalJson, sha256Hex, GENESIS_HASH } from './canonical.js';
export { defaultMasker, maskDeep, MASK, type ValueMasker } from './mask.js';
export { auditErrors } from './errors.js';
