import { useMemo, useState } from 'react';
import { recordsAcross } from '../lib/audit.js';
import { useLoad } from '../lib/load.js';
import { useLive } from '../lib/live.js';
import { bucketFor, egressCounts, llmUsage } from '../lib/usage.js';
import { ErrorBanner, Loading, PageHeader } from './common.js';
import { UsageChart } from './Chart.js';

/** LLM calls and tokens per sandbox and provider over time, and egress decisions allowed vs refused. */
export function UsagePage() {
  const calls = useLoad((api) => recordsAcross(api, 'llm-call', 2000), []);
  const decisions = useLoad((api) => recordsAcross(api, 'decision', 2000), []);
  useLive(['llm-call'], () => calls.reload());
  useLive(['decision'], () => decisions.reload());
  const [metric, setMetric] = useState<'tokens' | 'calls'>('tokens');
  const series = useMemo(() => llmUsage(calls.data ?? [], bucketFor(calls.data ?? [])), [calls.data]);
  const egress = useMemo(() => egressCounts(decisions.data ?? []), [decisions.data]);
  return (
    <section>
      <PageHeader title="Usage">
        <fieldset className="segmented">
          <legend className="sr-only">Measure</legend>
          {(['tokens', 'calls'] as const).map((m) => (
            <label key={m}>
              <input
                type="radio"
                name="metric"
                value={m}
                checked={metric === m}
                onChange={() => setMetric(m)}
              />{' '}
              {m}
            </label>
          ))}
        </fieldset>
      </PageHeader>
      <ErrorBanner error={calls.error ?? decisions.error} title="Could not read usage" />
      <div className="card">
        <h2>LLM {metric}</h2>
        {calls.loading && !calls.data ? (
          <Loading what="LLM calls" />
        ) : (
          <UsageChart series={series} metric={metric} />
        )}
        {series.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="sr-only">LLM totals per sandbox and provider</caption>
              <thead>
                <tr>
                  <th scope="col">Sandbox · provider</th>
                  <th scope="col">Calls</th>
                  <th scope="col">Refused</th>
                  <th scope="col">Input tokens</th>
                  <th scope="col">Output tokens</th>
                </tr>
              </thead>
              <tbody>
                {series.map((s) => (
                  <tr key={s.key}>
                    <th scope="row">{s.key}</th>
                    <td>{s.total.calls}</td>
                    <td>{s.total.refused}</td>
                    <td>{s.total.inputTokens}</td>
                    <td>{s.total.outputTokens}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </div>
      <div className="card">
        <h2>Egress decisions</h2>
        <p className="muted">Policy decisions of the egress door in the audit log, per sandbox.</p>
        {decisions.loading && !decisions.data ? <Loading what="egress decisions" /> : null}
        {decisions.data && egress.length === 0 ? (
          <p className="muted">No egress decisions recorded.</p>
        ) : null}
        {egress.length > 0 ? (
          <table>
            <caption className="sr-only">Egress decisions per sandbox</caption>
            <thead>
              <tr>
                <th scope="col">Sandbox</th>
                <th scope="col">Allowed</th>
                <th scope="col">Refused</th>
                <th scope="col">Share refused</th>
              </tr>
            </thead>
            <tbody>
              {egress.map((e) => (
                <tr key={e.sandbox}>
                  <th scope="row">{e.sandbox}</th>
                  <td>{e.allowed}</td>
                  <td>{e.refused}</td>
                  <td>
                    <meter
                      min={0}
                      max={1}
                      low={0.05}
                      high={0.5}
                      optimum={0}
                      value={e.refused / Math.max(1, e.allowed + e.refused)}
                      aria-label={`${e.refused} of ${e.allowed + e.refused} refused`}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
    </section>
  );
}
