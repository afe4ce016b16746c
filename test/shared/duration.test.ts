import { describe, expect, it } from 'vitest';
import { durationSeconds } from '../../src/shared/duration.js';

describe('durationSeconds', () => {
  it('reads s, m, h, d and w', () => {
    expect(durationSeconds('90s')).toBe(90);
    expect(durationSeconds('90m')).toBe(5400);
    expect(durationSeconds('12h')).toBe(43_200);
    expect(durationSeconds('30d')).toBe(2_592_000);
    expect(durationSeconds(' 1w ')).toBe(604_800);
  });

  it('reads a bare number as seconds only when asked', () => {
    expect(durationSeconds('12')).toBeUndefined();
    expect(durationSeconds('12', { bareSeconds: true })).toBe(12);
  });

  it('refuses anything else', () => {
    for (const bad of ['', '0d', '-1d', '1y', '1.5h', 'd', '10 minutes', '1234567s'])
      expect(durationSeconds(bad, { bareSeconds: true }), bad).toBeUndefined();
  });
});
