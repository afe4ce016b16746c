import { useMemo, useState } from 'react';
import { recordsAcross } from '../lib/audit.js';
import { query } from '../lib/api.js';
import { useLoad } from '../lib/load.js';
import { useLive, useLiveEgress } from '../lib/live.js';
import { href } from '../lib/route.js';
import type { EgressDecisionList, EgressRequest } from '../lib/types.js';
import { bucketFor, egressCounts, llmUsage, mergeEgress } from '../lib/usage.js';
import { Age, Badge, ErrorBanner, ListTable, Loading, PageHeader } from './common.js';
import { UsageChart } from './Chart.js';

/** LLM calls and tokens per sandbox and provider over time, and egress requests allowed vs refused. */
export function UsagePage() {
  const calls = useLoad((api) => recordsAcross(api, 'llm-call', 2000), []);
  useLive(['llm-call'], () => calls.reload());
  const [metric, setMetric] = useState<'tokens' | 'calls'>('tokens');
  const series = useMemo(() => llmUsage(calls.data ?? [], bucketFor(calls.data ?? [])), [calls.data]);
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
      <ErrorBanner error={calls.error} title="Could not read usage" />
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
      <EgressRequests />
    </section>
  );
}

const VERDICTS = [
  ['', 'all'],
  ['allow', 'allowed'],
  ['deny', 'refused'],
] as const;
const LAYERS = [
  ['', 'all'],
  ['proxy', 'proxy (HTTP, HTTPS)'],
  ['dns', 'DNS'],
] as const;

/**
 * Every egress request the daemon decided (DNS answers, proxy requests), allowed and refused, as it keeps them in
 * memory, with live ones added as they happen; refusals link to their explanation.
 */
function EgressRequests() {
  const loaded = useLoad(
    (api) => api.get<EgressDecisionList>(`/v1/egress/decisions${query({ limit: 500 })}`),
    [],
  );
  const [live, setLive] = useState<EgressRequest[]>([]);
  useLiveEgress((d) => setLive((l) => [d, ...l].slice(0, 500)));
  const [verdict, setVerdict] = useState('');
  const [layer, setLayer] = useState('');
  const all = useMemo(() => mergeEgress(live, loaded.data?.decisions ?? []), [live, loaded.data]);
  const counts = useMemo(() => egressCounts(all), [all]);
  const shown = all
    .filter((d) => (!verdict || d.verdict === verdict) && (!layer || d.layer === layer))
    .slice(0, 100);
  return (
    <div className="card">
      <h2>Egress requests</h2>
      <p className="muted">
        DNS answers and proxy requests, allowed and refused, since aiboxd started (the last 5000; refusals
        stay in the audit log).
      </p>
      <ErrorBanner error={loaded.error} title="Could not read egress requests" />
      {loaded.loading && !loaded.data ? <Loading what="egress requests" /> : null}
      {loaded.data && all.length === 0 ? <p className="muted">No egress requests yet.</p> : null}
      {counts.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Egress requests per sandbox</caption>
            <thead>
              <tr>
                <th scope="col">Sandbox</th>
                <th scope="col">Allowed</th>
                <th scope="col">Refused</th>
                <th scope="col">Share refused</th>
              </tr>
            </thead>
            <tbody>
              {counts.map((e) => (
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
        </div>
      ) : null}
      {all.length > 0 ? (
        <>
          <form
            className="filters"
            role="search"
            aria-label="Filter egress requests"
            onSubmit={(e) => e.preventDefault()}
          >
            <label>
              Verdict{' '}
              <select value={verdict} onChange={(e) => setVerdict(e.target.value)}>
                {VERDICTS.map(([v, label]) => (
                  <option key={v} value={v}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Layer{' '}
              <select value={layer} onChange={(e) => setLayer(e.target.value)}>
                {LAYERS.map(([v, label]) => (
                  <option key={v} value={v}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
          </form>
          <ListTable
            caption="Egress requests"
            columns={['When', 'Sandbox', 'Layer', 'Verdict', 'Request', 'Reason']}
            rows={shown}
            rowKey={(d) => d.id}
            rowHeader={false}
            cells={(d) => [
              <Age iso={new Date(d.time).toISOString()} />,
              d.sandbox ?? d.sandboxId,
              d.layer === 'dns' ? 'DNS' : 'proxy',
              <Badge tone={d.verdict === 'deny' ? 'bad' : 'ok'}>
                {d.verdict === 'deny' ? 'refused' : 'allowed'}
              </Badge>,
              <code className="target">
                {d.kind} {d.target}
              </code>,
              d.verdict === 'deny' ? (
                <a href={href('decisions', d.id)} aria-label={`Explain ${d.id}: ${d.reason}`}>
                  {d.reason}
                </a>
              ) : (
                d.reason
              ),
            ]}
          />
        </>
      ) : null}
    </div>
  );
}
