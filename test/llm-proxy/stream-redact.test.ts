import { describe, expect, it } from 'vitest';
import { SecretRedactor } from '../../src/credentials/index.js';
import { SseUsageReader, StreamRedactor, usageOf } from '../../src/llm-proxy/index.js';

const KEY = 'sk-ant-api03-split-across-chunks-XYZ';

function run(mode: 'lines' | 'window', parts: string[]): { out: string; emitted: string[] } {
  const r = new SecretRedactor();
  r.add(KEY);
  const s = new StreamRedactor(r, mode);
  const emitted = parts.map((p) => s.push(Buffer.from(p)).toString('utf8'));
  emitted.push(s.end().toString('utf8'));
  return { out: emitted.join(''), emitted };
}

describe('StreamRedactor', () => {
  it('masks a key split across two chunks of a plain body', () => {
    const { out } = run('window', ['{"echo":"sk-ant-api03-spl', 'it-across-chunks-XYZ","n":1}']);
    expect(out).toBe('{"echo":"[REDACTED]","n":1}');
  });

  it('masks a key split across chunks of an event stream and holds nothing back once a line ends', () => {
    const { out, emitted } = run('lines', [
      'data: {"t":"sk-ant-api03-split-',
      'across-chunks-XYZ"}\n\n',
      'data: {"t":"x"}\n\n',
    ]);
    expect(out).not.toContain(KEY);
    expect(emitted[1]).toBe('data: {"t":"[REDACTED]"}\n\n');
    expect(emitted[2]).toBe('data: {"t":"x"}\n\n');
  });

  it('leaves binary bodies without a key byte for byte intact', () => {
    const r = new SecretRedactor();
    r.add(KEY);
    const s = new StreamRedactor(r, 'window');
    const bin = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 256));
    const out = Buffer.concat([s.push(bin.subarray(0, 1234)), s.push(bin.subarray(1234)), s.end()]);
    expect(out.equals(bin)).toBe(true);
  });
});

describe('usage parsing', () => {
  it('reads Anthropic, OpenAI chat and Responses API usage', () => {
    expect(usageOf({ usage: { input_tokens: 3, output_tokens: 4, cache_read_input_tokens: 2 } })).toEqual({
      inputTokens: 3,
      outputTokens: 4,
      cacheReadTokens: 2,
    });
    expect(usageOf({ usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 } })).toEqual({
      inputTokens: 5,
      outputTokens: 6,
    });
    expect(
      usageOf({ type: 'response.completed', response: { usage: { input_tokens: 7, output_tokens: 8 } } }),
    ).toEqual({
      inputTokens: 7,
      outputTokens: 8,
    });
    expect(usageOf({ usage: null })).toBeUndefined();
  });

  it('keeps the running totals of a stream split at arbitrary bytes', () => {
    const events =
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15}}\n\n' +
      'data: [DONE]\n\n';
    const reader = new SseUsageReader();
    const bytes = Buffer.from(events);
    for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
    expect(reader.end()).toEqual({ inputTokens: 25, outputTokens: 15 });
  });
});
