import { useState } from 'react';
import { ApiError, query, seg } from '../lib/api.js';
import { asApiError, useApi, useLoad } from '../lib/load.js';
import { useLive } from '../lib/live.js';
import { href } from '../lib/route.js';
import type { SandboxReport } from '../lib/types.js';
import { Age, Badge, ErrorBanner, ListTable, Loading, PageHeader, stateTone } from './common.js';

/** The sandboxes the logged-in user may see, with their state, profile, owner, age and protections. */
export function SandboxList() {
  const list = useLoad((api) => api.get<{ sandboxes: SandboxReport[] }>('/v1/sandboxes'), []);
  useLive(['sandbox', 'session'], () => list.reload());
  const sandboxes = list.data?.sandboxes ?? [];
  return (
    <section aria-labelledby="sandboxes-title">
      <PageHeader title="Sandboxes">
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </PageHeader>
      <ErrorBanner error={list.error} title="Could not list sandboxes" />
      {list.loading && !list.data ? <Loading what="sandboxes" /> : null}
      {list.data && sandboxes.length === 0 ? <p className="muted">No sandboxes yet.</p> : null}
      <ListTable
        caption="Sandboxes"
        columns={['Name', 'State', 'Profile', 'Owner', 'Age', 'Protections']}
        rows={sandboxes}
        rowKey={(s) => s.id}
        cells={(s) => [
          <a href={href('sandboxes', s.name)}>{s.name}</a>,
          <Badge tone={stateTone(s.state)}>{s.state}</Badge>,
          s.profile,
          ownerOf(s),
          <Age iso={s.createdAt} />,
          <Protections report={s} compact />,
        ]}
      />
      <SessionList />
    </section>
  );
}

interface SessionRow {
  id: string;
  state: string;
  profile: string;
  owner: string;
  createdAt: string;
  lastActivityAt: string;
  expiresAt: string;
}

/** Sessions of the network API (workspace-less sandboxes driven by programs); hidden when the daemon has none. */
function SessionList() {
  const list = useLoad(
    (api) =>
      api.get<{ sessions: SessionRow[] }>('/v1/sessions').catch((e: unknown) => {
        // A daemon without the session API (not configured): nothing to show.
        if (e instanceof ApiError && e.status === 404) return { sessions: [] };
        throw e;
      }),
    [],
  );
  useLive(['session'], () => list.reload());
  const sessions = list.data?.sessions ?? [];
  if (!list.error && sessions.length === 0) return null;
  return (
    <>
      <h2 className="section-title">Sessions</h2>
      <ErrorBanner error={list.error} title="Could not list sessions" />
      <ListTable
        caption="Sessions"
        columns={['Session', 'State', 'Profile', 'Owner', 'Age', 'Last used', 'Expires']}
        rows={sessions}
        rowKey={(s) => s.id}
        cells={(s) => [
          <code>{s.id}</code>,
          <Badge tone={stateTone(s.state)}>{s.state}</Badge>,
          s.profile,
          <code>{s.owner}</code>,
          <Age iso={s.createdAt} />,
          <Age iso={s.lastActivityAt} />,
          <time dateTime={s.expiresAt}>{new Date(s.expiresAt).toLocaleString()}</time>,
        ]}
      />
    </>
  );
}

/** The user or token the sandbox belongs to (a daemon before the field: "—"). */
function ownerOf(s: SandboxReport): string {
  return s.owner ?? '—';
}

function Protections({ report, compact }: { report: SandboxReport; compact?: boolean }) {
  const on = report.protections.filter((p) => p.state === 'on').length;
  if (compact)
    return (
      <span
        title={report.protections.map((p) => `${p.layer}: ${p.state}`).join(', ')}
        aria-label={`${on} of ${report.protections.length} protections on`}
      >
        {report.protections.map((p) => (
          <Badge key={p.layer} tone={p.state === 'on' ? 'ok' : 'bad'}>
            {p.layer}
          </Badge>
        ))}
      </span>
    );
  return (
    <ul className="plain">
      {report.protections.map((p) => (
        <li key={p.layer}>
          <Badge tone={p.state === 'on' ? 'ok' : 'bad'}>{p.state}</Badge> <strong>{p.layer}</strong> —{' '}
          {p.detail}
        </li>
      ))}
    </ul>
  );
}

interface PolicyShow {
  revision?: string;
  layers: string[];
  doors: Record<string, unknown>;
  errors: { scope: string; code: string; message: string }[];
}

interface PackList {
  packs: { name: string; version: string; kind: string; mcpEnabled: boolean; installedAt: string }[];
}

/** One sandbox: state and lifecycle, endpoints, installed packs, effective policy per door. */
export function SandboxDetail({ name }: { name: string }) {
  const api = useApi();
  const sb = useLoad((a) => a.get<SandboxReport>(`/v1/sandboxes/${seg(name)}`), [name]);
  const policy = useLoad((a) => a.get<PolicyShow>(`/v1/policy${query({ sandbox: name })}`), [name]);
  const packs = useLoad((a) => a.get<PackList>(`/v1/sandboxes/${seg(name)}/packs`), [name]);
  const [busy, setBusy] = useState<string>();
  const [actionError, setActionError] = useState<ApiError>();
  useLive(['sandbox', 'policy'], (r) => {
    if (r.sandbox === name) {
      sb.reload();
      policy.reload();
    }
  });

  const act = async (what: 'stop' | 'start' | 'remove') => {
    if (what === 'remove' && !window.confirm(`Remove sandbox ${name}? Its container is deleted.`)) return;
    setBusy(what);
    setActionError(undefined);
    try {
      if (what === 'remove') {
        await api.delete(`/v1/sandboxes/${seg(name)}`);
        window.location.hash = href('sandboxes');
        return;
      }
      await api.post(`/v1/sandboxes/${seg(name)}/${what}`);
      sb.reload();
    } catch (e) {
      setActionError(asApiError(e));
    } finally {
      setBusy(undefined);
    }
  };

  const s = sb.data;
  return (
    <section>
      <PageHeader title={`Sandbox ${name}`}>
        {s?.state === 'running' ? (
          <>
            <a className="button" href={href('terminal', name)}>
              Open terminal
            </a>
            <button type="button" disabled={!!busy} onClick={() => void act('stop')}>
              {busy === 'stop' ? 'Stopping…' : 'Stop'}
            </button>
          </>
        ) : (
          <button type="button" disabled={!!busy || !s} onClick={() => void act('start')}>
            {busy === 'start' ? 'Starting…' : 'Start'}
          </button>
        )}
        <button type="button" className="danger" disabled={!!busy || !s} onClick={() => void act('remove')}>
          Remove
        </button>
        <a className="button" href={href('audit', name)}>
          Audit
        </a>
      </PageHeader>
      <ErrorBanner error={actionError} title="The action failed" />
      <ErrorBanner error={sb.error} title="Could not read the sandbox" />
      {!s && sb.loading ? <Loading what="the sandbox" /> : null}
      {s ? (
        <div className="grid">
          <div className="card">
            <h2>State</h2>
            <dl className="facts">
              <dt>State</dt>
              <dd>
                <Badge tone={stateTone(s.state)}>{s.state}</Badge> {s.reason ?? ''}
              </dd>
              <dt>Profile</dt>
              <dd>{s.profile}</dd>
              <dt>Owner</dt>
              <dd>{ownerOf(s)}</dd>
              <dt>Created</dt>
              <dd>
                <Age iso={s.createdAt} />
              </dd>
              <dt>Project</dt>
              <dd>
                {s.path ? <code>{s.path}</code> : <span className="muted">none (a fresh workspace)</span>}
              </dd>
              <dt>Runtime</dt>
              <dd>
                {s.runtime} ({s.mode})
              </dd>
              <dt>Image</dt>
              <dd>
                <code>{s.image}</code>
              </dd>
            </dl>
          </div>
          <div className="card">
            <h2>Protections</h2>
            <Protections report={s} />
          </div>
          <div className="card">
            <h2>Endpoints</h2>
            {Object.keys(s.endpoints).length === 0 ? (
              <p className="muted">None.</p>
            ) : (
              <dl className="facts stacked">
                {Object.entries(s.endpoints).map(([k, v]) => (
                  <div key={k} className="fact">
                    <dt>{k}</dt>
                    <dd>
                      <code>{v}</code>
                    </dd>
                  </div>
                ))}
              </dl>
            )}
          </div>
          <div className="card">
            <h2>Installed packs</h2>
            <ErrorBanner error={packs.error} title="Packs" />
            {packs.data && packs.data.packs.length === 0 ? <p className="muted">None.</p> : null}
            <ul className="plain">
              {packs.data?.packs.map((p) => (
                <li key={p.name}>
                  <strong>{p.name}</strong> {p.version} <Badge tone="muted">{p.kind}</Badge>
                  {p.mcpEnabled ? <Badge tone="ok">MCP on</Badge> : null}
                </li>
              ))}
            </ul>
          </div>
        </div>
      ) : null}
      <div className="card">
        <h2>Effective policy</h2>
        <ErrorBanner error={policy.error} title="Policy" />
        {policy.data ? (
          <>
            <p className="muted">
              Layers: {policy.data.layers.join(' → ') || 'none'}
              {policy.data.revision ? ` · revision ${policy.data.revision.slice(0, 12)}` : ''}
            </p>
            {policy.data.errors.map((e) => (
              <div key={e.scope + e.code} role="alert" className="banner banner-warn">
                {e.scope}: {e.message} <code>{e.code}</code>
              </div>
            ))}
            {Object.entries(policy.data.doors).map(([door, effective]) => (
              <details key={door} className="door">
                <summary>{door}</summary>
                <pre className="json">{JSON.stringify(effective, null, 2)}</pre>
              </details>
            ))}
          </>
        ) : null}
      </div>
    </section>
  );
}
