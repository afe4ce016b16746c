/** Which refusals are written to the audit log as `api.refused`: every 401/403, and hostile input by its code. */
import { describe, expect, it } from 'vitest';
import { isAuditedRefusal } from '../../src/daemon/http/refusal-audit.js';

const answer = (status: number, code: string) => ({
  status,
  payload: { error: { code, message: 'refused', hint: 'a hint' } },
});

describe('isAuditedRefusal', () => {
  it('audits every 401 and 403', () => {
    expect(isAuditedRefusal(answer(401, 'TOKEN_INVALID'))).toBe(true);
    expect(isAuditedRefusal(answer(403, 'SANDBOX_FORBIDDEN'))).toBe(true);
  });

  it("audits hostile input to the sandbox's files: links out of a session workspace and refused tar entries", () => {
    expect(isAuditedRefusal(answer(400, 'SESSION_PATH_ESCAPE'))).toBe(true);
    expect(isAuditedRefusal(answer(400, 'SESSION_TAR_ENTRY_REFUSED'))).toBe(true);
    expect(isAuditedRefusal(answer(400, 'SANDBOX_PATH_LINK'))).toBe(true);
  });

  it('does not audit ordinary caller mistakes', () => {
    expect(isAuditedRefusal(answer(400, 'API_BAD_REQUEST'))).toBe(false);
    expect(isAuditedRefusal(answer(404, 'SESSION_NOT_FOUND'))).toBe(false);
    expect(isAuditedRefusal(answer(500, 'SESSION_PATH_ESCAPE'))).toBe(false);
  });
});
