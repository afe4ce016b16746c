import { describe, expect, it } from 'vitest';
import { workspaceSegments, displayPath } from '../../src/sessions/index.js';
import { codeOfThrow } from './helpers.js';

describe('workspaceSegments', () => {
  it('accepts relative paths and absolute paths under /workspace, normalised', () => {
    expect(workspaceSegments('a/b.txt')).toEqual(['a', 'b.txt']);
    expect(workspaceSegments('./a//b/')).toEqual(['a', 'b']);
    expect(workspaceSegments('/workspace/a/b')).toEqual(['a', 'b']);
    expect(workspaceSegments('/workspace')).toEqual([]);
    expect(workspaceSegments('/workspace/')).toEqual([]);
    expect(workspaceSegments('.')).toEqual([]);
    expect(workspaceSegments('..a/b..')).toEqual(['..a', 'b..']);
    expect(workspaceSegments('ünïcode/名前')).toEqual(['ünïcode', '名前']);
  });

  it('refuses "..", paths outside /workspace, control characters and over-long names', () => {
    const bad = [
      '',
      '..',
      '../etc/passwd',
      'a/../../etc',
      'a/..',
      'a/../b',
      '/etc/passwd',
      '/',
      '/workspacex/a',
      '/workspace/../etc/passwd',
      '/workspace/a/../../x',
      '//workspace/a',
      'a\0b',
      'a\nb',
      'a\u007fb',
      'x'.repeat(256),
      `${'a/'.repeat(65)}b`,
      'a'.repeat(5000),
    ];
    for (const p of bad)
      expect(
        codeOfThrow(() => workspaceSegments(p)),
        JSON.stringify(p),
      ).toBe('SESSION_PATH_INVALID');
  });

  it('shows paths back relative to the workspace', () => {
    expect(displayPath([])).toBe('.');
    expect(displayPath(['a', 'b'])).toBe('a/b');
  });
});
