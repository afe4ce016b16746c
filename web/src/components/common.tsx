import type { ReactNode } from 'react';
import type { ApiError } from '../lib/api.js';

/** An API error as the user should read it: message, stable code, and what to do. */
export function ErrorBanner({ error, title }: { error: ApiError | undefined; title?: string }) {
  if (!error) return null;
  return (
    <div role="alert" className="banner banner-error">
      <strong>{title ?? 'Error'}:</strong> {error.message} <code className="code-tag">{error.code}</code>
      {error.hint ? <div className="hint">{error.hint}</div> : null}
    </div>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'muted'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function stateTone(state: string): 'ok' | 'warn' | 'bad' | 'muted' {
  switch (state) {
    case 'running':
    case 'approved':
    case 'allow':
      return 'ok';
    case 'creating':
    case 'pending':
    case 'approve':
      return 'warn';
    case 'failed':
    case 'rejected':
    case 'conflict':
    case 'deny':
      return 'bad';
    default:
      return 'muted';
  }
}

/** "3 min ago" with the exact time in a tooltip and for screen readers. */
export function Age({ iso, now = Date.now() }: { iso: string; now?: number }) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return <span>{iso}</span>;
  return (
    <time dateTime={iso} title={new Date(t).toLocaleString()}>
      {ago(now - t)}
    </time>
  );
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

export function Loading({ what }: { what: string }) {
  return (
    <p role="status" className="muted">
      Loading {what}…
    </p>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1 tabIndex={-1}>{title}</h1>
      <div className="actions">{children}</div>
    </div>
  );
}

/**
 * A list as a table: a caption for screen readers, one header per column, and each row's cells. The first cell is
 * the row's header (what the row is about) unless `rowHeader` is false.
 */
export function ListTable<T>({
  caption,
  columns,
  rows,
  rowKey,
  cells,
  rowHeader = true,
}: {
  caption: string;
  columns: string[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  cells: (row: T) => ReactNode[];
  rowHeader?: boolean;
}) {
  if (rows.length === 0) return null;
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {cells(row).map((cell, i) =>
                i === 0 && rowHeader ? (
                  <th key={i} scope="row">
                    {cell}
                  </th>
                ) : (
                  <td key={i}>{cell}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
