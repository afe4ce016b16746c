import { useState, type FormEvent } from 'react';
import { type ApiError, query, seg } from '../lib/api.js';
import { asApiError, useApi, useLoad } from '../lib/load.js';
import { useLive } from '../lib/live.js';
import { href } from '../lib/route.js';
import type { PushReport, PushShowReport } from '../lib/types.js';
import { Age, Badge, ErrorBanner, ListTable, Loading, PageHeader, stateTone } from './common.js';
import { DiffView } from './DiffView.js';

const STATES = ['pending', 'approved', 'rejected', 'conflict', ''] as const;

/** Gated pushes, pending first: what waits for a reviewer. */
export function PushList() {
  const [state, setState] = useState<(typeof STATES)[number]>('pending');
  const list = useLoad((api) => api.get<{ pushes: PushReport[] }>(`/v1/pushes${query({ state })}`), [state]);
  useLive(['push'], () => list.reload());
  const pushes = list.data?.pushes ?? [];
  return (
    <section>
      <PageHeader title="Pushes">
        <label>
          State{' '}
          <select value={state} onChange={(e) => setState(e.target.value as (typeof STATES)[number])}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s || 'all'}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      <ErrorBanner error={list.error} title="Could not list pushes" />
      {list.loading && !list.data ? <Loading what="pushes" /> : null}
      {list.data && pushes.length === 0 ? <p className="muted">No {state} pushes.</p> : null}
      <ListTable
        caption="Pushes"
        columns={['Push', 'Sandbox', 'Target', 'Commit', 'State', 'Staged']}
        rows={pushes}
        rowKey={(p) => p.id}
        cells={(p) => [
          <a href={href('pushes', p.id)}>{p.id}</a>,
          p.sandbox,
          <>
            <code>{p.ref.replace(/^refs\/heads\//, '')}</code> <span className="muted">{p.repo}</span>
          </>,
          <code>{p.commit.slice(0, 12)}</code>,
          <Badge tone={stateTone(p.state)}>{p.state}</Badge>,
          <Age iso={p.createdAt} />,
        ]}
      />
    </section>
  );
}

/**
 * One push: the commits and their diff as the daemon presents them (showing records the review), approve bound to
 * the commit shown, reject with a reason. If the push moved since it was shown, the daemon refuses the approval and
 * the new commit is shown instead.
 */
export function PushDetail({ id }: { id: string }) {
  const api = useApi();
  const shown = useLoad((a) => a.post<PushShowReport>(`/v1/pushes/${seg(id)}/show`), [id]);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject'>();
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<PushReport>();

  const push = done ?? shown.data?.push;
  const pending = push?.state === 'pending' || push?.state === 'conflict';

  const approve = async () => {
    if (!shown.data) return;
    setBusy('approve');
    setError(undefined);
    try {
      setDone(
        await api.post<PushReport>(`/v1/pushes/${seg(id)}/approve`, { commit: shown.data.push.commit }),
      );
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(undefined);
    }
  };
  const reject = async (e: FormEvent) => {
    e.preventDefault();
    setBusy('reject');
    setError(undefined);
    try {
      setDone(
        await api.post<PushReport>(
          `/v1/pushes/${seg(id)}/reject`,
          reason.trim() ? { reason: reason.trim() } : {},
        ),
      );
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section>
      <PageHeader title={`Push ${id}`}>
        <a className="button" href={href('pushes')}>
          All pushes
        </a>
      </PageHeader>
      <ErrorBanner error={shown.error} title="Could not show the push" />
      <ErrorBanner error={error} title={busy === 'reject' ? 'Reject failed' : 'The push was not changed'} />
      {error && /MOVED|STALE|REVIEW|COMMIT/i.test(error.code) ? (
        <p>
          <button
            type="button"
            onClick={() => {
              setError(undefined);
              shown.reload();
            }}
          >
            Show the current commit
          </button>
        </p>
      ) : null}
      {!shown.data && shown.loading ? <Loading what="the push" /> : null}
      {push && shown.data ? (
        <>
          <div className="card">
            <dl className="facts">
              <dt>State</dt>
              <dd>
                <Badge tone={stateTone(push.state)}>{push.state}</Badge> {push.reason ?? ''}
              </dd>
              <dt>Sandbox</dt>
              <dd>
                <a href={href('sandboxes', push.sandbox)}>{push.sandbox}</a>
              </dd>
              <dt>Repository</dt>
              <dd>
                <code>{push.repo}</code>
              </dd>
              <dt>Target</dt>
              <dd>
                <code>{push.ref}</code>{' '}
                {shown.data.target ? (
                  <span className="muted">now at {shown.data.target.slice(0, 12)}</span>
                ) : (
                  <span className="muted">(new branch)</span>
                )}
              </dd>
              <dt>Commit shown</dt>
              <dd>
                <code data-testid="shown-commit">{shown.data.push.commit}</code>
              </dd>
              <dt>Why it waits</dt>
              <dd>
                {push.rule} · <a href={href('decisions', push.decisionId)}>{push.decisionId}</a>
              </dd>
            </dl>
          </div>
          <div className="card">
            <h2>Commits</h2>
            <ul className="plain commits">
              {shown.data.commits.map((c) => (
                <li key={c.sha}>
                  <code>{c.sha.slice(0, 12)}</code> {c.subject} <span className="muted">— {c.author}</span>
                </li>
              ))}
            </ul>
            {shown.data.stat ? <pre className="stat">{shown.data.stat}</pre> : null}
          </div>
          {pending ? (
            <div className="card review">
              <h2>Review</h2>
              <button type="button" className="primary" disabled={!!busy} onClick={() => void approve()}>
                {busy === 'approve' ? 'Approving…' : `Approve ${shown.data.push.commit.slice(0, 12)}`}
              </button>
              <form onSubmit={(e) => void reject(e)} className="reject-form">
                <label htmlFor="reject-reason">Reason for rejecting (shown to the push's author)</label>
                <textarea
                  id="reject-reason"
                  maxLength={2000}
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                  rows={2}
                />
                <button type="submit" className="danger" disabled={!!busy}>
                  {busy === 'reject' ? 'Rejecting…' : 'Reject'}
                </button>
              </form>
            </div>
          ) : (
            <p role="status" className="banner banner-info">
              This push is {push.state}
              {push.reviewedCommit ? ` (commit ${push.reviewedCommit.slice(0, 12)})` : ''}.
            </p>
          )}
          <div className="card">
            <h2>Diff</h2>
            <DiffView diff={shown.data.diff} truncated={shown.data.diffTruncated} />
          </div>
        </>
      ) : null}
    </section>
  );
}
