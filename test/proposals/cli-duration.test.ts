import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/cli/commands/egress-learn.js';

describe('aibox egress learn --for', () => {
  it('reads seconds, minutes and hours', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('10m')).toBe(600);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('30')).toBe(30);
  });

  it('refuses what is not a duration, or out of 5 s … 4 h, as a usage error', () => {
    for (const bad of ['', '10 minutes', '-5m', '1d', '2s', '5h'])
      expect(() => parseDuration(bad), bad).toThrow(expect.objectContaining({ code: 'CLI_USAGE' }));
  });
});
