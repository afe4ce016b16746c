import { query, type Api } from './api.js';
import type { AuditRecordJson, SandboxReport } from './types.js';

/**
 * Audit records of one kind across every sandbox the user may see: the API answers the whole log to root only,
 * so the dashboard asks sandbox by sandbox, then merges newest first.
 */
export async function recordsAcross(
  api: Api,
  kind: string | undefined,
  limit: number,
): Promise<AuditRecordJson[]> {
  const { sandboxes } = await api.get<{ sandboxes: SandboxReport[] }>('/v1/sandboxes');
  const names = [...new Set(sandboxes.map((s) => s.name))];
  const lists = await Promise.all(
    names.map((sandbox) =>
      api
        .get<{ records: AuditRecordJson[] }>(`/v1/audit${query({ sandbox, kind, limit })}`)
        .then((r) => r.records),
    ),
  );
  const seen = new Set<number>();
  return lists
    .flat()
    .filter((r) => (seen.has(r.seq) ? false : (seen.add(r.seq), true)))
    .sort((a, b) => b.seq - a.seq);
}

/** A record field as text: strings and numbers only, anything else is shown as nothing. */
export function field(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

export interface DecisionFilter {
  door: string;
  outcome: string;
  sandbox: string;
  text: string;
}

export interface DecisionRow {
  id: string;
  ts: string;
  door: string;
  outcome: string;
  sandbox: string;
  reason: string;
}

/** Decision records (kind `decision`) as rows, filtered: refusals by default. */
export function decisionRows(records: AuditRecordJson[], f: DecisionFilter): DecisionRow[] {
  const text = f.text.trim().toLowerCase();
  return records
    .filter((r) => r.kind === 'decision')
    .map((r) => ({
      id: r.id ?? field(r.data['id']),
      ts: r.ts,
      door: field(r.data['door']),
      outcome: field(r.data['outcome']),
      sandbox: r.sandbox ?? '',
      reason: field(r.data['reason']),
    }))
    .filter(
      (d) =>
        (!f.door || d.door === f.door) &&
        (!f.outcome || d.outcome === f.outcome) &&
        (!f.sandbox || d.sandbox === f.sandbox) &&
        (!text || `${d.id} ${d.reason}`.toLowerCase().includes(text)),
    );
}

/** A one-line summary of an audit record for the timeline (no payloads: they may be long). */
export function summarize(r: AuditRecordJson): string {
  const d = r.data;
  const s = (k: string) => (typeof d[k] === 'string' ? d[k] : undefined);
  switch (r.kind) {
    case 'decision':
      return `${s('door') ?? '?'}: ${s('outcome') ?? '?'} — ${s('reason') ?? ''}`;
    case 'llm-call':
      return `${s('provider') ?? '?'} ${s('model') ?? ''} ${s('outcome') ?? ''} (${field(d['status'])})`;
    default: {
      const brief = s('reason') ?? s('message') ?? s('action') ?? s('state') ?? s('ref') ?? s('event');
      return brief ?? Object.keys(d).slice(0, 4).join(', ');
    }
  }
}
