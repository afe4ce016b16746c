import type { FastifyInstance, RouteOptions } from 'fastify';
import path from 'node:path';
import { requireScope, type TokenPrincipal, type TokenStore } from '../../tokens/index.js';
import { tokenErrors } from '../../tokens/index.js';
import { DAEMON_CALLER } from '../../shared/index.js';
import { assertDashboardAddress, defaultWebDir, installDashboard } from './index.js';
import type { DashboardSessions } from './sessions.js';

/**
 * The API routes the dashboard calls. On the network listener they are served to admin tokens (the dashboard is an
 * operator's view of every sandbox: reviewing pushes, reading refusals and the audit trail, a terminal); a route
 * that already names its own token scope keeps it. Everything else stays on the unix socket only.
 */
export const DASHBOARD_API_ROUTES: readonly string[] = [
  'GET /v1/sandboxes',
  'GET /v1/sandboxes/:name',
  'POST /v1/sandboxes/:name/stop',
  'POST /v1/sandboxes/:name/start',
  'DELETE /v1/sandboxes/:name',
  'GET /v1/sandboxes/:name/exec/ws',
  'GET /v1/sandboxes/:name/packs',
  'GET /v1/policy',
  'GET /v1/policy/decisions/:id',
  'GET /v1/egress/decisions/:id',
  'GET /v1/egress/decisions',
  'GET /v1/pushes',
  'GET /v1/pushes/:id',
  'POST /v1/pushes/:id/show',
  'POST /v1/pushes/:id/approve',
  'POST /v1/pushes/:id/reject',
  'GET /v1/audit',
  'GET /v1/audit/verify',
  'GET /v1/audit/export',
  'GET /v1/events',
];

export interface DashboardRegistration {
  /** The daemon's token store (undefined: no tokens, so no login). */
  tokens: () => TokenStore | undefined;
  /**
   * Where it is served (the network listener, the dashboard's own port): refused anywhere but loopback without
   * TLS. Whether a request came over TLS (Secure, __Host- cookie, https origin) is read from its socket.
   */
  endpoints: readonly { host: string; tls: boolean }[];
  webDir?: string;
  /** The daemon's state directory: sessions are kept in <stateDir>/dashboard/sessions.json across restarts. */
  stateDir?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests that arrived on the dashboard's own port (dashboard/listener.ts marks them). */
    dashboardPortRequests: WeakSet<object>;
  }
}

/**
 * Everything the dashboard needs in the daemon's app, in one call made before the token authentication hook and
 * before the routes are registered: admin scope on the dashboard's API routes, the session cookie translated to
 * its token, CSRF checks, the login routes and the static files. Logging in takes an admin token.
 */
export async function registerDashboard(
  app: FastifyInstance,
  options: DashboardRegistration,
): Promise<DashboardSessions> {
  for (const e of options.endpoints) assertDashboardAddress(e.host, e.tls);
  const ownPort = new WeakSet<object>();
  app.decorate('dashboardPortRequests', ownPort);
  const wanted = new Set(DASHBOARD_API_ROUTES);
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // HEAD routes Fastify adds for GETs follow their GET.
    if (!methods.some((m) => wanted.has(`${m === 'HEAD' ? 'GET' : m} ${route.url}`))) return;
    const config = (route.config ?? {}) as { tokenScope?: string };
    if (config.tokenScope === undefined) route.config = { ...route.config, tokenScope: 'admin' };
  });
  const storeOf = () => {
    const store = options.tokens();
    if (!store) throw tokenErrors.create('TOKEN_INVALID', 'this daemon issues no tokens');
    return store;
  };
  const sessions = await installDashboard(app, {
    webDir: options.webDir ?? defaultWebDir(),
    dashboardOnly: (raw) => ownPort.has(raw),
    ...(options.stateDir ? { sessionsFile: path.join(options.stateDir, 'dashboard', 'sessions.json') } : {}),
    login: (token) => {
      const principal = storeOf().authenticate(token);
      requireScope(principal, 'admin');
      return { subject: principal.name, tokenId: principal.id };
    },
    resume: (tokenId, request) => {
      const principal = principalById(storeOf(), tokenId);
      requireScope(principal, 'admin');
      // Token authentication (token-auth.ts) takes the principal as proven: the secret was, at login.
      request.principal = principal;
      return { subject: principal.name };
    },
  });
  // A network request has no uid, so the socket's per-uid rules show it nothing. A dashboard session is an
  // operator's (admin tokens only, checked on every call) and acts as root on the dashboard's routes: the only
  // routes it reaches, besides those that name their own token scope. Before the access check (a preHandler).
  app.addHook('preValidation', async (request) => {
    if (sessions.served(request.raw)) request.caller = DAEMON_CALLER;
  });
  return sessions;
}

/** The principal of a token known by its id, as TokenStore.authenticate would answer for its secret. */
function principalById(store: TokenStore, id: string): TokenPrincipal {
  const t = store.list().find((x) => x.id === id);
  if (!t) throw tokenErrors.create('TOKEN_INVALID', 'the bearer token is not valid');
  if (t.state === 'revoked')
    throw tokenErrors.create('TOKEN_REVOKED', `token "${t.name}" was revoked`, { id: t.id });
  if (t.state === 'expired')
    throw tokenErrors.create('TOKEN_EXPIRED', `token "${t.name}" expired at ${t.expiresAt ?? ''}`, {
      id: t.id,
    });
  return { id: t.id, name: t.name, scope: t.scope, team: t.team };
}
