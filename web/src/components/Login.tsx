import { useState, type FormEvent } from 'react';
import type { ApiError } from '../lib/api.js';
import { asApiError, useApi } from '../lib/load.js';
import type { DashboardSession } from '../lib/types.js';
import { ErrorBanner } from './common.js';

/**
 * Log in with an API token (`aibox token create`). The token is sent once and exchanged for an HttpOnly session
 * cookie; it is cleared from the form at once and never stored by the page.
 */
export function Login({
  onLogin,
  expired,
}: {
  onLogin: (s: DashboardSession) => void;
  /** Why the last session ended (an API 401: TOKEN_EXPIRED, TOKEN_REVOKED, DASHBOARD_SESSION_INVALID …). */
  expired?: ApiError | undefined;
}) {
  const api = useApi();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = token.trim();
    setToken('');
    if (!value) return;
    setBusy(true);
    setError(undefined);
    try {
      onLogin(await api.post<DashboardSession>('/dashboard/login', { token: value }));
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <form onSubmit={(e) => void submit(e)} className="card" aria-labelledby="login-title">
        <h1 id="login-title">aibox</h1>
        <ErrorBanner error={expired} title="Your session ended; log in again" />
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-describedby="token-help"
        />
        <p id="token-help" className="muted">
          An admin token: <code>sudo aibox token create NAME --scope admin</code>. It is exchanged for a
          session cookie and never stored here.
        </p>
        <ErrorBanner error={error} title="Login failed" />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
