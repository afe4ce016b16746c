import { describe, expect, it } from 'vitest';
import { renderShow } from '../../src/cli/commands/policy-show.js';
import { formatPolicyValue } from '../../src/cli/render/policy.js';

describe('aibox policy show (text)', () => {
  it('prints rule lists as rules, never [object Object]', () => {
    const text = renderShow({
      revision: 'rev_1',
      loadedAt: '2026-12-04T20:00:00.000Z',
      layers: ['org'],
      doors: {
        mounts: {
          allow: [
            { path: '/home/alice/src', mode: 'rw' },
            { path: '/srv/data', mode: 'ro' },
          ],
        },
        egress: { allowDomains: ['a.example'], allowPorts: [443] },
        llm: { budget: { daily: 5 } },
      },
      errors: [],
    });
    expect(text).not.toContain('[object Object]');
    expect(text).toContain('/home/alice/src (rw), /srv/data (ro)');
    expect(text).toContain('a.example');
    expect(text).toContain('applied  2026-12-04T20:00:00.000Z');
    expect(formatPolicyValue([{ host: 'x', ports: [1, 2] }])).toBe('{host=x ports={1, 2}}');
  });

  it('says no policy is in force when none was ever loaded', () => {
    const err = { scope: 'repo', code: 'POLICY_REPO_MISSING', message: 'no org/', hint: 'fix it' };
    const none = renderShow({ layers: [], doors: {}, errors: [err] } as never);
    expect(none).toContain('no policy is in force');
    expect(none).not.toContain('last good policy');
    const kept = renderShow({ revision: 'rev_2', layers: ['org'], doors: {}, errors: [err] } as never);
    expect(kept).toContain('the last good policy (rev_2) stays in force');
  });
});
