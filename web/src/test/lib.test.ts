import { describe, expect, it } from 'vitest';
import { parseDiff, languageOf } from '../lib/diff.js';
import { llmUsage, egressCounts, bucketFor, mergeEgress } from '../lib/usage.js';
import { decisionRows } from '../lib/audit.js';
import { parseRoute, href } from '../lib/route.js';
import { query, seg } from '../lib/api.js';
import { record, shown } from './fixtures.js';

describe('parseDiff', () => {
  it('splits a diff into files with languages and line kinds', () => {
    const files = parseDiff(shown().diff + '\ndiff --git a/README.md b/README.md\n@@ -0,0 +1 @@\n+# hi\n');
    expect(files.map((f) => [f.path, f.language])).toEqual([
      ['src/hello.ts', 'typescript'],
      ['README.md', 'markdown'],
    ]);
    expect(files[0]!.lines.map((l) => l.kind)).toEqual([
      'meta',
      'meta',
      'meta',
      'meta',
      'hunk',
      'del',
      'add',
    ]);
    expect(files[1]!.lines.at(-1)).toEqual({ kind: 'add', text: '+# hi' });
  });

  it('keeps lines before the first file header (a stat) in an unnamed file', () => {
    const files = parseDiff(' a | 1 +\n' + shown().diff);
    expect(files[0]!.path).toBe('');
    expect(files[1]!.path).toBe('src/hello.ts');
  });

  it('knows a Dockerfile and leaves unknown extensions unhighlighted', () => {
    expect(languageOf('deploy/Dockerfile')).toBe('dockerfile');
    expect(languageOf('data.xyz')).toBeUndefined();
  });
});

describe('llmUsage', () => {
  const t0 = Date.parse('2026-12-01T10:00:00Z');
  const call = (
    min: number,
    sandbox: string,
    provider: string,
    inTok: number,
    outTok: number,
    outcome = 'forwarded',
  ) =>
    record({
      kind: 'llm-call',
      sandbox,
      ts: new Date(t0 + min * 60_000).toISOString(),
      data: { provider, outcome, usage: { inputTokens: inTok, outputTokens: outTok } },
    });

  it('sums calls and tokens per sandbox and provider into equal buckets', () => {
    const series = llmUsage(
      [
        call(0, 'a', 'anthropic', 10, 5),
        call(1, 'a', 'anthropic', 1, 1),
        call(7, 'a', 'openai', 100, 50),
        call(7, 'b', 'anthropic', 0, 0, 'refused'),
        record({ kind: 'decision' }),
      ],
      5 * 60_000,
    );
    expect(series.map((s) => s.key)).toEqual(['a · anthropic', 'a · openai', 'b · anthropic']);
    expect(series.every((s) => s.points.length === 2)).toBe(true);
    expect(series[0]!.points[0]).toMatchObject({ calls: 2, inputTokens: 11, outputTokens: 6 });
    expect(series[1]!.points[1]).toMatchObject({ calls: 1, inputTokens: 100, outputTokens: 50 });
    expect(series[2]!.total).toEqual({ calls: 1, inputTokens: 0, outputTokens: 0, refused: 1 });
  });

  it('ignores usage that is not a non-negative number', () => {
    const r = record({
      kind: 'llm-call',
      sandbox: 'a',
      data: { provider: 'x', usage: { inputTokens: -5, outputTokens: 'many' } },
    });
    expect(llmUsage([r], 60_000)[0]!.total).toMatchObject({ calls: 1, inputTokens: 0, outputTokens: 0 });
  });

  it('picks wider buckets for longer spans', () => {
    const a = record({ kind: 'x', ts: '2026-12-01T00:00:00Z' });
    const b = record({ kind: 'x', ts: '2026-12-03T00:00:00Z' });
    expect(bucketFor([a, b])).toBe(3_600_000);
    expect(bucketFor([a])).toBe(60_000);
  });
});

describe('egressCounts and decisionRows', () => {
  const recs = [
    record({
      kind: 'decision',
      id: 'dec_1',
      sandbox: 'a',
      data: { door: 'egress', outcome: 'deny', reason: 'evil.example refused' },
    }),
    record({
      kind: 'decision',
      id: 'dec_2',
      sandbox: 'a',
      data: { door: 'egress', outcome: 'allow', reason: 'ok' },
    }),
    record({
      kind: 'decision',
      id: 'dec_3',
      sandbox: 'b',
      data: { door: 'push', outcome: 'approve', reason: 'main needs review' },
    }),
    record({ kind: 'llm-call', sandbox: 'a', data: {} }),
  ];

  it('counts egress requests allowed and refused per sandbox, and merges live ones without repeats', () => {
    const req = (id: string, sandbox: string | undefined, verdict: 'allow' | 'deny') => ({
      id,
      sandboxId: `sbx_${id}`,
      ...(sandbox ? { sandbox } : {}),
      time: 1,
      layer: 'proxy' as const,
      verdict,
      reason: 'R',
      target: 't',
      kind: 'GET',
    });
    const loaded = [req('d3', 'b', 'deny'), req('d2', 'a', 'allow'), req('d1', undefined, 'deny')];
    // A removed sandbox is counted under its id.
    expect(egressCounts(loaded)).toEqual([
      { sandbox: 'a', allowed: 1, refused: 0 },
      { sandbox: 'b', allowed: 0, refused: 1 },
      { sandbox: 'sbx_d1', allowed: 0, refused: 1 },
    ]);
    const merged = mergeEgress([req('d4', 'a', 'allow'), req('d3', 'b', 'deny')], loaded, 3);
    expect(merged.map((d) => d.id)).toEqual(['d4', 'd3', 'd2']);
  });

  it('filters decisions by door, outcome, sandbox and text', () => {
    const all = { door: '', outcome: '', sandbox: '', text: '' };
    expect(decisionRows(recs, all).map((d) => d.id)).toEqual(['dec_1', 'dec_2', 'dec_3']);
    expect(decisionRows(recs, { ...all, outcome: 'deny' }).map((d) => d.id)).toEqual(['dec_1']);
    expect(decisionRows(recs, { ...all, door: 'push' }).map((d) => d.id)).toEqual(['dec_3']);
    expect(decisionRows(recs, { ...all, sandbox: 'a', text: 'EVIL' }).map((d) => d.id)).toEqual(['dec_1']);
  });
});

describe('routes and URLs', () => {
  it('parses hash routes and builds them back', () => {
    expect(parseRoute('#/pushes/push_abc123')).toEqual({ page: 'push', id: 'push_abc123' });
    expect(parseRoute('#/terminal/my-box')).toEqual({ page: 'terminal', name: 'my-box' });
    expect(parseRoute('#/audit')).toEqual({ page: 'audit' });
    expect(parseRoute('')).toEqual({ page: 'sandboxes' });
    expect(parseRoute('#/nonsense')).toEqual({ page: 'sandboxes' });
    expect(parseRoute(href('sandboxes', 'a/b'))).toEqual({ page: 'sandbox', name: 'a/b' });
  });

  it('encodes path segments and drops empty query values', () => {
    expect(seg('../secrets')).toBe('..%2Fsecrets');
    expect(query({ sandbox: 'a b', kind: undefined, state: '' })).toBe('?sandbox=a+b');
    expect(query({})).toBe('');
  });
});
