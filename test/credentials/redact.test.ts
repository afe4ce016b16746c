import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretRedactor, SecretValue } from '../../src/credentials/index.js';
import { captureLogs } from './helpers.js';

describe('SecretRedactor', () => {
  it('masks every registered value in text, longest first', () => {
    const r = new SecretRedactor();
    r.add('sk-ant-short-1234');
    r.add('sk-ant-short-1234-and-longer');
    expect(r.redact('a sk-ant-short-1234-and-longer b sk-ant-short-1234 c')).toBe(
      'a [REDACTED] b [REDACTED] c',
    );
  });

  it('masks the JSON-escaped form of a value as it appears in JSON log lines', () => {
    const r = new SecretRedactor();
    r.add('pa"ss\\word-123');
    expect(r.redact(JSON.stringify({ v: 'x pa"ss\\word-123 y' }))).not.toContain('word-123');
  });

  it('masks strings nested in objects and arrays', () => {
    const r = new SecretRedactor();
    r.add('hvs.TOKENVALUE');
    expect(r.redactValue({ a: ['hvs.TOKENVALUE'], b: { c: 'x hvs.TOKENVALUE' } })).toEqual({
      a: ['[REDACTED]'],
      b: { c: 'x [REDACTED]' },
    });
  });

  it('leaves values too short to mask safely alone', () => {
    const r = new SecretRedactor();
    r.add('abc');
    expect(r.size).toBe(0);
  });
});

describe('SecretValue', () => {
  it('never prints its value through String, JSON or inspect', () => {
    const v = new SecretValue('sk-live-value-42');
    expect(String(v)).toBe('[REDACTED]');
    expect(JSON.stringify({ v })).toBe('{"v":"[REDACTED]"}');
    expect(inspect({ v })).not.toContain('sk-live');
    expect(v.reveal()).toBe('sk-live-value-42');
  });
});

describe('daemon log configuration', () => {
  it('masks credential headers by path and known secret values anywhere in a line', () => {
    const { logger, lines, redactor } = captureLogs();
    redactor.add('sk-ant-api03-SECRET');
    logger.info({ req: { headers: { authorization: 'Bearer abc', 'x-api-key': 'xyz-plain' } } }, 'incoming');
    logger.warn(
      { err: new Error('upstream said sk-ant-api03-SECRET is bad') },
      'message with sk-ant-api03-SECRET',
    );
    const all = lines.join('');
    expect(all).not.toContain('sk-ant-api03-SECRET');
    expect(all).not.toContain('Bearer abc');
    expect(all).not.toContain('xyz-plain');
    expect(all).toContain('[REDACTED]');
  });
});
