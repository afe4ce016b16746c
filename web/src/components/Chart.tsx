import type { UsageSeries } from '../lib/usage.js';

const COLORS = ['#2f6fde', '#d9822b', '#29a36a', '#b84fc4', '#c94040', '#2aa1b3', '#8a7d2a'];

/** Stacked bars of tokens per time bucket, one colour per series; an SVG with a text alternative. */
export function UsageChart({ series, metric }: { series: UsageSeries[]; metric: 'tokens' | 'calls' }) {
  if (series.length === 0) return <p className="muted">No LLM calls recorded.</p>;
  const buckets = series[0]!.points.length;
  const value = (p: UsageSeries['points'][number]) =>
    metric === 'tokens' ? p.inputTokens + p.outputTokens : p.calls;
  const totals = Array.from({ length: buckets }, (_, i) =>
    series.reduce((n, s) => n + value(s.points[i]!), 0),
  );
  const max = Math.max(1, ...totals);
  const W = 640;
  const H = 200;
  const pad = 28;
  const bw = (W - pad) / buckets;
  const first = series[0]!.points[0]!.t;
  const last = series[0]!.points[buckets - 1]!.t;
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${W} ${H + 20}`}
        role="img"
        aria-label={`${metric} per time bucket, stacked by sandbox and provider; maximum ${max}`}
      >
        <line x1={pad} y1={H} x2={W} y2={H} className="axis" />
        <text x={0} y={12} className="tick">
          {max}
        </text>
        <text x={0} y={H} className="tick">
          0
        </text>
        {Array.from({ length: buckets }, (_, i) => {
          let y = H;
          return series.map((s, k) => {
            const v = value(s.points[i]!);
            const h = (v / max) * (H - 16);
            y -= h;
            return v > 0 ? (
              <rect
                key={`${i}-${k}`}
                x={pad + i * bw + 1}
                y={y}
                width={Math.max(1, bw - 2)}
                height={h}
                fill={COLORS[k % COLORS.length]}
              >
                <title>{`${s.key} ${new Date(s.points[i]!.t).toLocaleString()}: ${v} ${metric}`}</title>
              </rect>
            ) : null;
          });
        })}
        <text x={pad} y={H + 16} className="tick">
          {new Date(first).toLocaleString()}
        </text>
        <text x={W} y={H + 16} className="tick" textAnchor="end">
          {new Date(last).toLocaleString()}
        </text>
      </svg>
      <figcaption>
        <ul className="legend">
          {series.map((s, k) => (
            <li key={s.key}>
              <span className="swatch" style={{ background: COLORS[k % COLORS.length] }} aria-hidden="true" />{' '}
              {s.key}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
