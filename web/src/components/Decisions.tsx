import { useMemo, useState } from 'react';
import { seg } from '../lib/api.js';
import { decisionRows, recordsAcross, type DecisionFilter } from '../lib/audit.js';
import { useLoad } from '../lib/load.js';
import { useLive } from '../lib/live.js';
import { href } from '../lib/route.js';
import type { PolicyDecision } from '../lib/types.js';
import { Age, Badge, ErrorBanner, ListTable, Loading, PageHeader, stateTone } from './common.js';

const DOORS = ['', 'egress', 'mounts', 'exec', 'push', 'llm', 'packs', 'limits'];
const OUTCOMES = ['deny', 'approve', 'allow', ''];

/** Recent policy decisions across doors and sandboxes, refusals first, filtered in the page. */
export function DecisionList() {
  const records = useLoad((api) => recordsAcross(api, 'decision', 500), []);
  useLive(['decision'], () => records.reload());
  const [filter, setFilter] = useState<DecisionFilter>({ door: '', outcome: 'deny', sandbox: '', text: '' });
  const rows = useMemo(() => decisionRows(records.data ?? [], filter), [records.data, filter]);
  const sandboxes = useMemo(
    () => [...new Set((records.data ?? []).map((r) => r.sandbox ?? ''))].filter(Boolean).sort(),
    [records.data],
  );
  const set = (k: keyof DecisionFilter) => (e: { target: { value: string } }) =>
    setFilter({ ...filter, [k]: e.target.value });
  return (
    <section>
      <PageHeader title="Decisions">
        <button type="button" onClick={records.reload}>
          Refresh
        </button>
      </PageHeader>
      <form
        className="filters"
        role="search"
        aria-label="Filter decisions"
        onSubmit={(e) => e.preventDefault()}
      >
        <label>
          Door{' '}
          <select value={filter.door} onChange={set('door')}>
            {DOORS.map((d) => (
              <option key={d} value={d}>
                {d || 'all'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Outcome{' '}
          <select value={filter.outcome} onChange={set('outcome')}>
            {OUTCOMES.map((d) => (
              <option key={d} value={d}>
                {d === 'deny' ? 'refused' : d === 'approve' ? 'needs approval' : d || 'all'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Sandbox{' '}
          <select value={filter.sandbox} onChange={set('sandbox')}>
            <option value="">all</option>
            {sandboxes.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search <input type="search" value={filter.text} onChange={set('text')} placeholder="reason or id" />
        </label>
      </form>
      <ErrorBanner error={records.error} title="Could not read decisions" />
      {records.loading && !records.data ? <Loading what="decisions" /> : null}
      {records.data && rows.length === 0 ? <p className="muted">No decisions match.</p> : null}
      <ListTable
        caption="Decisions"
        columns={['When', 'Door', 'Outcome', 'Sandbox', 'Reason']}
        rows={rows}
        rowKey={(d) => d.id}
        rowHeader={false}
        cells={(d) => [
          <Age iso={d.ts} />,
          d.door,
          <Badge tone={stateTone(d.outcome)}>{outcomeLabel(d.outcome)}</Badge>,
          d.sandbox,
          <a href={href('decisions', d.id)} aria-label={`Explain ${d.id}: ${d.reason}`}>
            {d.reason || d.id}
          </a>,
        ]}
      />
    </section>
  );
}

/** A decision explained as `aibox policy explain` does: each layer's verdict, the rules and where they are written. */
export function DecisionExplain({ id }: { id: string }) {
  const d = useLoad((api) => api.get<PolicyDecision>(`/v1/policy/decisions/${seg(id)}`), [id]);
  const x = d.data;
  return (
    <section>
      <PageHeader title={`Decision ${id}`}>
        <a className="button" href={href('decisions')}>
          All decisions
        </a>
      </PageHeader>
      <ErrorBanner error={d.error} title="Could not explain the decision" />
      {!x && d.loading ? <Loading what="the decision" /> : null}
      {x ? (
        <>
          <div className="card">
            <p className="lead">
              <Badge tone={stateTone(x.outcome)}>{x.outcome}</Badge> at the <strong>{x.door}</strong> door
              {x.sandbox ? (
                <>
                  {' '}
                  for <a href={href('sandboxes', x.sandbox)}>{x.sandbox}</a>
                </>
              ) : null}
              : {x.reason}
            </p>
            <p className="muted">
              <Age iso={x.ts} /> · policy revision <code>{x.revision.slice(0, 12)}</code>
            </p>
          </div>
          <div className="card">
            <h2>Layers</h2>
            <ol className="layers">
              {x.layers.map((l) => (
                <li key={l.layer}>
                  <strong>{l.layer}</strong>{' '}
                  <Badge tone={l.verdict === 'abstain' ? 'muted' : stateTone(l.verdict)}>{l.verdict}</Badge> —{' '}
                  {l.reason}
                  {l.rules.length > 0 ? (
                    <ul>
                      {l.rules.map((r, i) => (
                        <li key={i}>
                          <code>{r.rule}</code>
                          {r.at ? (
                            <>
                              {' '}
                              at <code className="at">{r.at}</code>
                            </>
                          ) : null}
                        </li>
                      ))}
                    </ul>
                  ) : null}
                </li>
              ))}
            </ol>
          </div>
          <div className="grid">
            <details className="card">
              <summary>Request</summary>
              <pre className="json">{JSON.stringify(x.request, null, 2)}</pre>
            </details>
            <details className="card">
              <summary>Effective policy of this door</summary>
              <pre className="json">{JSON.stringify(x.effective, null, 2)}</pre>
            </details>
          </div>
        </>
      ) : null}
    </section>
  );
}

/** The words of the outcome filter, on the badges too (refused, needs approval). */
function outcomeLabel(outcome: string): string {
  return outcome === 'deny' ? 'refused' : outcome === 'approve' ? 'needs approval' : outcome;
}
