import { describe, expect, it } from 'vitest';
import { SessionLedger, type SessionLimits } from '../../src/sessions/index.js';
import { isAiboxError } from '../../src/shared/index.js';

const limits: SessionLimits = {
  maxPerOwner: 2,
  maxTotal: 3,
  defaultTtlSeconds: 600,
  maxTtlSeconds: 3600,
  defaultIdleSeconds: 60,
  maxIdleSeconds: 300,
};

function refusal(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (isAiboxError(err)) return { code: err.code, status: err.status, details: err.details };
    throw err;
  }
  return undefined;
}

describe('SessionLedger', () => {
  it('caps sessions per owner and in total, with a Retry-After from the soonest deadline', () => {
    let now = 1_000_000;
    const ledger = new SessionLedger(limits, () => now);
    ledger.reserve('s1', 'tok_a');
    now += 10_000;
    ledger.reserve('s2', 'tok_a');
    expect(refusal(() => ledger.reserve('s3', 'tok_a'))).toEqual({
      code: 'SESSION_QUOTA',
      status: 429,
      details: { scope: 'owner', limit: 2, retryAfterSeconds: 50 },
    });
    ledger.reserve('s3', 'tok_b');
    expect(refusal(() => ledger.reserve('s4', 'tok_c'))?.details).toMatchObject({ scope: 'total', limit: 3 });
    ledger.release('s1');
    expect(ledger.reserve('s4', 'tok_a').owner).toBe('tok_a');
    expect(ledger.ofOwner('tok_a').map((e) => e.id)).toEqual(['s2', 's4']);
  });

  it('caps requested TTLs at the daemon maximum and defaults them', () => {
    const now = 0;
    const ledger = new SessionLedger(limits, () => now);
    const a = ledger.reserve('a', 'o', { ttlSeconds: 99_999, idleTtlSeconds: 99_999 });
    expect([a.expiresAt, a.idleMs]).toEqual([3_600_000, 300_000]);
    const b = ledger.reserve('b', 'p');
    expect([b.expiresAt, b.idleMs]).toEqual([600_000, 60_000]);
  });

  it('expires idle sessions unless touched, and every session at its absolute deadline', () => {
    let now = 0;
    const ledger = new SessionLedger(limits, () => now);
    ledger.reserve('busy', 'o', { ttlSeconds: 100, idleTtlSeconds: 30 });
    ledger.reserve('idle', 'p', { ttlSeconds: 100, idleTtlSeconds: 30 });
    expect(ledger.nextDeadlineInMs()).toBe(30_000);
    for (let t = 20_000; t <= 80_000; t += 20_000) {
      now = t;
      ledger.touch('busy');
    }
    now = 80_000;
    expect(ledger.expired()).toEqual([{ id: 'idle', reason: 'idle' }]);
    ledger.release('idle');
    now = 99_999;
    ledger.touch('busy');
    expect(ledger.expired()).toEqual([]);
    expect(ledger.nextDeadlineInMs()).toBe(1);
    now = 100_000;
    expect(ledger.expired()).toEqual([{ id: 'busy', reason: 'absolute' }]);
    ledger.release('busy');
    expect(ledger.nextDeadlineInMs()).toBeUndefined();
  });
});
