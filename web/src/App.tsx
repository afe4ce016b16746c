import { useEffect, useState } from 'react';
import { Api, type ApiError } from './lib/api.js';
import { ApiContext } from './lib/load.js';
import { LiveContext, LiveFeed, useLiveState } from './lib/live.js';
import { href, useRoute, type Route } from './lib/route.js';
import type { DashboardSession } from './lib/types.js';
import { Login } from './components/Login.js';
import { SandboxDetail, SandboxList } from './components/Sandboxes.js';
import { TerminalPage } from './components/Terminal.js';
import { PushDetail, PushList } from './components/Pushes.js';
import { DecisionExplain, DecisionList } from './components/Decisions.js';
import { AuditPage } from './components/Audit.js';
import { UsagePage } from './components/Usage.js';

const NAV: { page: Route['page']; label: string; to: string; also: Route['page'][] }[] = [
  { page: 'sandboxes', label: 'Sandboxes', to: href('sandboxes'), also: ['sandbox', 'terminal'] },
  { page: 'pushes', label: 'Pushes', to: href('pushes'), also: ['push'] },
  { page: 'decisions', label: 'Decisions', to: href('decisions'), also: ['decision'] },
  { page: 'audit', label: 'Audit', to: href('audit'), also: [] },
  { page: 'usage', label: 'Usage', to: href('usage'), also: [] },
];

function Screen({ route }: { route: Route }) {
  switch (route.page) {
    case 'sandboxes':
      return <SandboxList />;
    case 'sandbox':
      return <SandboxDetail name={route.name} />;
    case 'terminal':
      return <TerminalPage name={route.name} />;
    case 'pushes':
      return <PushList />;
    case 'push':
      return <PushDetail id={route.id} />;
    case 'decisions':
      return <DecisionList />;
    case 'decision':
      return <DecisionExplain id={route.id} />;
    case 'audit':
      return <AuditPage sandbox={route.sandbox} />;
    case 'usage':
      return <UsagePage />;
  }
}

function LiveIndicator() {
  const state = useLiveState();
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite">
      {state === 'live' ? '● live' : state === 'offline' ? '○ offline' : '… connecting'}
    </span>
  );
}

/**
 * The dashboard shell: session check, navigation, the live feed, and the current screen. An API answer of 401
 * anywhere (expired or revoked token) sends the user back to the login form.
 */
export function App({ api: given, feed: givenFeed }: { api?: Api; feed?: LiveFeed }) {
  const [session, setSession] = useState<DashboardSession | null>();
  const [expired, setExpired] = useState<ApiError>();
  const [api] = useState(() => given ?? new Api());
  useEffect(() => {
    api.onUnauthorized = (e) => {
      setExpired(e);
      setSession(null);
    };
    return () => {
      api.onUnauthorized = undefined;
    };
  }, [api]);
  const [feed] = useState(() => givenFeed ?? new LiveFeed());
  const route = useRoute();

  useEffect(() => {
    api.get<DashboardSession>('/dashboard/session').then(
      (s) => {
        api.setCsrf(s.csrf);
        setSession(s);
      },
      () => setSession(null),
    );
  }, [api]);

  useEffect(() => {
    if (!session) return;
    feed.start();
    return () => feed.stop();
  }, [feed, session]);

  // Move focus to the new screen's heading, so keyboard and screen-reader users land on it.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route]);

  const logout = async () => {
    try {
      await api.post('/dashboard/logout');
    } finally {
      api.setCsrf(undefined);
      setSession(null);
    }
  };

  if (session === undefined)
    return (
      <p role="status" className="muted centered">
        Loading…
      </p>
    );
  if (session === null)
    return (
      <ApiContext.Provider value={api}>
        <Login
          expired={expired}
          onLogin={(s) => {
            api.setCsrf(s.csrf);
            setExpired(undefined);
            setSession(s);
          }}
        />
      </ApiContext.Provider>
    );
  return (
    <ApiContext.Provider value={api}>
      <LiveContext.Provider value={feed}>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <span className="brand">aibox</span>
          <nav aria-label="Main">
            <ul>
              {NAV.map((n) => {
                const current = route.page === n.page || n.also.includes(route.page);
                return (
                  <li key={n.page}>
                    <a href={n.to} aria-current={current ? 'page' : undefined}>
                      {n.label}
                    </a>
                  </li>
                );
              })}
            </ul>
          </nav>
          <LiveIndicator />
          <span className="who" title="Logged in as">
            {session.subject}
          </span>
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        </header>
        <main id="main">
          <Screen route={route} />
        </main>
      </LiveContext.Provider>
    </ApiContext.Provider>
  );
}
