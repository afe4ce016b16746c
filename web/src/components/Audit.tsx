import { useState } from 'react';
import { type ApiError, query } from '../lib/api.js';
import { summarize } from '../lib/audit.js';
import { asApiError, useApi, useLoad } from '../lib/load.js';
import { useLive } from '../lib/live.js';
import { href } from '../lib/route.js';
import type { AuditExportBundle, AuditRecordJson, AuditVerifyReport, SandboxReport } from '../lib/types.js';
import { Age, Badge, ErrorBanner, Loading, PageHeader } from './common.js';

/** The audit trail of one sandbox as a timeline, the hash chain's verification, and an export. */
export function AuditPage({ sandbox }: { sandbox: string | undefined }) {
  const api = useApi();
  const sandboxes = useLoad((a) => a.get<{ sandboxes: SandboxReport[] }>('/v1/sandboxes'), []);
  const chosen = sandbox ?? sandboxes.data?.sandboxes[0]?.name;
  const records = useLoad(
    (a) =>
      chosen
        ? a.get<{ records: AuditRecordJson[] }>(`/v1/audit${query({ sandbox: chosen, limit: 300 })}`)
        : Promise.resolve({ records: [] }),
    [chosen],
  );
  useLive(undefined, (r) => {
    if (r.sandbox === chosen) records.reload();
  });
  const [verify, setVerify] = useState<AuditVerifyReport>();
  const [verifying, setVerifying] = useState(false);
  const [error, setError] = useState<ApiError>();

  const runVerify = async () => {
    setVerifying(true);
    setError(undefined);
    try {
      setVerify(await api.get<AuditVerifyReport>('/v1/audit/verify'));
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setVerifying(false);
    }
  };
  const runExport = async () => {
    if (!chosen) return;
    setError(undefined);
    try {
      const bundle = await api.get<AuditExportBundle>(`/v1/audit/export${query({ sandbox: chosen })}`);
      const url = URL.createObjectURL(
        new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' }),
      );
      const a = document.createElement('a');
      a.href = url;
      a.download = `aibox-audit-${chosen}.json`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(asApiError(e));
    }
  };

  const list = [...(records.data?.records ?? [])].sort((a, b) => b.seq - a.seq);
  return (
    <section>
      <PageHeader title="Audit">
        <label>
          Sandbox{' '}
          <select
            value={chosen ?? ''}
            onChange={(e) => (window.location.hash = href('audit', e.target.value))}
            disabled={!sandboxes.data}
          >
            {(sandboxes.data?.sandboxes ?? []).map((s) => (
              <option key={s.id} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void runVerify()} disabled={verifying}>
          {verifying ? 'Verifying…' : 'Verify chain'}
        </button>
        <button type="button" onClick={() => void runExport()} disabled={!chosen}>
          Export
        </button>
      </PageHeader>
      <ErrorBanner error={error} title="Audit" />
      {verify ? (
        <div
          role="status"
          className={`banner ${verify.ok ? 'banner-ok' : 'banner-error'}`}
          data-testid="verify-status"
        >
          {verify.ok
            ? `Chain verified: ${verify.records} records, last #${verify.lastSeq} (${verify.lastHash.slice(0, 12)}).`
            : `Chain broken at line ${verify.problem?.line ?? '?'}${verify.problem?.seq ? ` (record #${verify.problem.seq})` : ''}: ${verify.problem?.reason ?? 'unknown'}.`}
        </div>
      ) : null}
      <ErrorBanner error={sandboxes.error ?? records.error} title="Could not read the audit log" />
      {records.loading && !records.data ? <Loading what="audit records" /> : null}
      {sandboxes.data && !chosen ? <p className="muted">No sandboxes to show.</p> : null}
      <ol className="timeline" aria-label={`Audit records of ${chosen ?? 'no sandbox'}, newest first`}>
        {list.map((r) => (
          <li key={r.seq}>
            <span className="seq">#{r.seq}</span> <Age iso={r.ts} />{' '}
            <Badge tone={r.kind === 'api.refused' ? 'bad' : 'muted'}>{r.kind}</Badge>{' '}
            {r.kind === 'decision' && r.id ? (
              <a href={href('decisions', r.id)}>{summarize(r)}</a>
            ) : (
              <span>{summarize(r)}</span>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
