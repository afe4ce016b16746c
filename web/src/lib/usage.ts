import type { AuditRecordJson, EgressRequest } from './types.js';

export interface UsagePoint {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

export interface UsageSeries {
  key: string;
  points: UsagePoint[];
  total: { calls: number; inputTokens: number; outputTokens: number; refused: number };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/**
 * LLM calls (audit kind `llm-call`) per sandbox and provider, bucketed by `bucketMs`. Every series has the same
 * buckets (from the first call to the last) so a chart can draw them side by side.
 */
export function llmUsage(records: AuditRecordJson[], bucketMs: number): UsageSeries[] {
  const calls = records.filter((r) => r.kind === 'llm-call');
  if (calls.length === 0) return [];
  const times = calls.map((r) => Date.parse(r.ts)).filter((t) => Number.isFinite(t));
  const first = Math.floor(Math.min(...times) / bucketMs) * bucketMs;
  const last = Math.floor(Math.max(...times) / bucketMs) * bucketMs;
  const buckets = Math.min(500, Math.round((last - first) / bucketMs) + 1);
  const series = new Map<string, UsageSeries>();
  for (const r of calls) {
    const t = Date.parse(r.ts);
    if (!Number.isFinite(t)) continue;
    const sandbox = r.sandbox ?? (typeof r.data['sandboxName'] === 'string' ? r.data['sandboxName'] : '?');
    const provider = typeof r.data['provider'] === 'string' ? r.data['provider'] : 'unknown';
    const key = `${sandbox} · ${provider}`;
    let s = series.get(key);
    if (!s) {
      s = {
        key,
        points: Array.from({ length: buckets }, (_, i) => ({
          t: first + i * bucketMs,
          calls: 0,
          inputTokens: 0,
          outputTokens: 0,
        })),
        total: { calls: 0, inputTokens: 0, outputTokens: 0, refused: 0 },
      };
      series.set(key, s);
    }
    const i = Math.min(buckets - 1, Math.floor((t - first) / bucketMs));
    const p = s.points[i]!;
    const usage = (r.data['usage'] ?? {}) as Record<string, unknown>;
    p.calls += 1;
    p.inputTokens += num(usage['inputTokens']);
    p.outputTokens += num(usage['outputTokens']);
    s.total.calls += 1;
    s.total.inputTokens += num(usage['inputTokens']);
    s.total.outputTokens += num(usage['outputTokens']);
    if (r.data['outcome'] === 'refused') s.total.refused += 1;
  }
  return [...series.values()].sort((a, b) => a.key.localeCompare(b.key));
}

export interface EgressCounts {
  sandbox: string;
  allowed: number;
  refused: number;
}

/** Egress requests (DNS answers and proxy requests the daemon decided), allowed vs refused, per sandbox. */
export function egressCounts(decisions: EgressRequest[]): EgressCounts[] {
  const by = new Map<string, EgressCounts>();
  for (const d of decisions) {
    const sandbox = d.sandbox ?? d.sandboxId;
    const c = by.get(sandbox) ?? { sandbox, allowed: 0, refused: 0 };
    if (d.verdict === 'deny') c.refused += 1;
    else c.allowed += 1;
    by.set(sandbox, c);
  }
  return [...by.values()].sort((a, b) => a.sandbox.localeCompare(b.sandbox));
}

/** Newest first, without repeats: live decisions prepended to a loaded list, at most `max`. */
export function mergeEgress(live: EgressRequest[], loaded: EgressRequest[], max = 500): EgressRequest[] {
  const seen = new Set<string>();
  const out: EgressRequest[] = [];
  for (const d of [...live, ...loaded]) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    out.push(d);
    if (out.length >= max) break;
  }
  return out;
}

/** A bucket width that gives a chart a few dozen bars over the span of the records. */
export function bucketFor(records: AuditRecordJson[]): number {
  const times = records.map((r) => Date.parse(r.ts)).filter((t) => Number.isFinite(t));
  if (times.length < 2) return 60_000;
  const span = Math.max(...times) - Math.min(...times);
  const steps = [60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 6 * 3_600_000, 86_400_000];
  return steps.find((s) => span / s <= 48) ?? 86_400_000;
}
