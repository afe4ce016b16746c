import { defineErrors } from '../shared/index.js';

/** The audit log's error catalogue. Codes are stable once shipped. */
export const auditErrors = defineErrors({
  AUDIT_WRITE_FAILED: {
    status: 500,
    hint: 'Check free space and permissions of the daemon state directory; aiboxd refuses actions it cannot audit.',
  },
  AUDIT_CLOSED: {
    status: 503,
    hint: 'The audit log was closed (the daemon is shutting down); retry once aiboxd is back.',
  },
  AUDIT_BAD_RECORD: {
    status: 400,
    hint: 'Audit records need a non-empty `kind` and JSON-serialisable data.',
  },
  AUDIT_READ_FAILED: {
    status: 500,
    hint: 'Check that the audit log file exists and is readable by aiboxd.',
  },
});
