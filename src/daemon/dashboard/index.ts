import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { z } from 'zod';
import { API_ROUTES } from '../../shared/api/routes.js';
import { open } from '../http/access.js';
import { dashboardErrors } from './errors.js';
import {
  DashboardSessions,
  DEFAULT_LIMITS,
  cookieValue,
  csrfOf,
  sameToken,
  type DashboardSession,
  type SessionLimits,
} from './sessions.js';

export { dashboardErrors } from './errors.js';
export { DashboardSessions } from './sessions.js';
export { assertDashboardAddress, isLoopback } from './address.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A dashboard page or login route: served on the network listener without a bearer token. */
    dashboardPublic?: boolean;
  }
}

export interface DashboardOptions {
  /** The built single-page app (dist/web: index.html and assets/). */
  webDir: string;
  /**
   * Checks an API token at login: its holder's name and the token's public id, or the API's own 401/403
   * (TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_REVOKED, TOKEN_SCOPE …). The token itself is not kept.
   */
  login(token: string): Login | Promise<Login>;
  /**
   * Re-checks a session's token by its id on every call (so revoking or expiry ends its sessions at once, with the
   * token's own error) and makes `request` act as that token for the API's authentication and scope checks.
   */
  resume(tokenId: string, request: FastifyRequest): { subject: string } | Promise<{ subject: string }>;
  /** Where sessions are kept across daemon restarts (hashed ids, no token); unset: in memory only. */
  sessionsFile?: string;
  /**
   * TLS: the cookie is `__Host-` prefixed and Secure, and the expected origin is https. Unset: decided per request by
   * whether it came over TLS (the daemon may serve the dashboard on a TLS listener and on a loopback port at once).
   */
  secure?: boolean;
  /**
   * Requests of a port that serves the dashboard only: everything but the page, its assets and the login needs the
   * session cookie there, and a program's own bearer token is refused (that port is no API listener).
   */
  dashboardOnly?: (raw: FastifyRequest['raw']) => boolean;
  limits?: SessionLimits;
}

export interface Login {
  subject: string;
  tokenId: string;
}

const LoginRequest = z.object({ token: z.string().min(1).max(4096) }).strict();
const CSRF_HEADER = 'x-aibox-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Security headers of every dashboard page and asset: nothing inline but styles, nothing framed, no referrer. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The web dashboard on an HTTP listener: its static files, login with an API token exchanged for an HttpOnly
 * SameSite=Strict session cookie, and the translation of that cookie into the token for the /v1 API, so the page
 * goes through the same token authentication and access checks as any program. A cookie-authenticated call that
 * changes state must carry the session's CSRF token in `x-aibox-csrf` and, when the browser sends one, a
 * same-origin Origin; a cookie-authenticated WebSocket upgrade must carry a same-origin Origin.
 *
 * Call it on the root instance before the listener's token authentication hook, so the header is set in time.
 */
export async function installDashboard(
  app: FastifyInstance,
  options: DashboardOptions,
): Promise<DashboardSessions> {
  const sessions = await DashboardSessions.open(options.sessionsFile, options.limits ?? DEFAULT_LIMITS);
  // A login or logout just made is on disk before the daemon (and its state folder) goes away.
  app.addHook('onClose', () => sessions.flush());
  const secure = (request: FastifyRequest): boolean =>
    options.secure ?? (request.raw.socket as TLSSocket | undefined)?.encrypted === true;
  const cookieName = (request: FastifyRequest) =>
    secure(request) ? '__Host-aibox_session' : 'aibox_session';
  const built = existsSync(path.join(options.webDir, 'index.html'));

  const sessionOf = (request: FastifyRequest) => cookieValue(request.headers.cookie, cookieName(request));
  const sameOrigin = (request: FastifyRequest): boolean => {
    const origin = request.headers.origin;
    const scheme = secure(request) ? 'https' : 'http';
    return origin === undefined || origin === `${scheme}://${request.headers.host ?? ''}`;
  };
  const checkCsrf = (request: FastifyRequest, id: string) => {
    const header = request.headers[CSRF_HEADER];
    if (!sameOrigin(request) || !sameToken(typeof header === 'string' ? header : undefined, csrfOf(id))) {
      throw dashboardErrors.create(
        'DASHBOARD_CSRF',
        `${request.method} ${request.url.split('?')[0]?.slice(0, 200) ?? ''} needs the dashboard's CSRF header from its own origin`,
      );
    }
  };
  /** The session's token still valid, or the session ends with the token's own error. */
  const revalidate = async (id: string, session: DashboardSession, request: FastifyRequest) => {
    try {
      return await options.resume(session.tokenId, request);
    } catch (err) {
      sessions.delete(id);
      throw err;
    }
  };
  const cookie = (request: FastifyRequest, value: string, maxAgeSeconds: number) =>
    `${cookieName(request)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure(request) ? '; Secure' : ''}`;

  app.addHook('onRequest', async (request) => {
    const url = request.url;
    if (options.dashboardOnly?.(request.raw) && !request.routeOptions.config.dashboardPublic) {
      // The dashboard's own port: the page's calls only, never a program with its own token (nor a guess).
      if (request.headers.authorization !== undefined || !sessions.get(sessionOf(request))) {
        throw dashboardErrors.create(
          'DASHBOARD_SESSION_INVALID',
          'this port serves the dashboard only: log in on its page (programs use the network listener)',
        );
      }
    }
    if (!url.startsWith('/v1/')) return;
    const id = sessionOf(request);
    // Programs bring their own token; a call without the cookie is none of the dashboard's business.
    if (!id || request.headers.authorization !== undefined) return;
    const session = sessions.get(id);
    if (!session) throw dashboardErrors.create('DASHBOARD_SESSION_INVALID', 'no such dashboard session');
    if (request.headers.upgrade !== undefined) {
      // A WebSocket is not covered by SameSite on every browser: refuse any other origin (cross-site hijacking).
      if (request.headers.origin === undefined || !sameOrigin(request)) {
        throw dashboardErrors.create('DASHBOARD_CSRF', 'a WebSocket from another origin');
      }
    } else if (!SAFE_METHODS.has(request.method)) {
      checkCsrf(request, id);
    }
    await revalidate(id, session, request);
    sessions.mark(request.raw);
  });

  await app.register(fastifyStatic, {
    root: path.resolve(options.webDir),
    serve: false,
    index: false,
    cacheControl: false,
  });
  const page = (reply: FastifyReply, file: string, cache: string) => {
    if (!built)
      throw dashboardErrors.create('DASHBOARD_NOT_BUILT', 'the dashboard is not built on this host');
    return reply.headers({ ...PAGE_HEADERS, 'cache-control': cache }).sendFile(file);
  };
  // Served without a token on the network listener too (see register.ts): the page, its assets and the login.
  const everyone = { config: { access: open, dashboardPublic: true } };

  app.get(API_ROUTES.dashboard.page, everyone, async (_request, reply) =>
    page(reply, 'index.html', 'no-store'),
  );
  app.get(API_ROUTES.dashboard.assets, everyone, async (request, reply) => {
    const rest = (request.params as { '*': string })['*'];
    // Vite names assets by content hash: they never change under a name.
    return page(reply, `assets/${rest}`, 'public, max-age=31536000, immutable');
  });

  app.post(API_ROUTES.dashboard.login, everyone, async (request, reply) => {
    if (!sameOrigin(request)) throw dashboardErrors.create('DASHBOARD_CSRF', 'a login from another origin');
    const { token } = LoginRequest.parse(request.body ?? {});
    const { subject, tokenId } = await options.login(token);
    sessions.delete(sessionOf(request));
    const { id } = sessions.create(tokenId, subject);
    void reply.header(
      'set-cookie',
      cookie(request, id, Math.floor((options.limits ?? DEFAULT_LIMITS).maxAgeMs / 1000)),
    );
    void reply.header('cache-control', 'no-store');
    return { subject, csrf: csrfOf(id) };
  });

  app.get(API_ROUTES.dashboard.session, everyone, async (request, reply) => {
    const id = sessionOf(request);
    const session = sessions.get(id);
    if (!id || !session) throw dashboardErrors.create('DASHBOARD_SESSION_INVALID', 'not logged in');
    const { subject } = await revalidate(id, session, request);
    void reply.header('cache-control', 'no-store');
    return { subject, csrf: csrfOf(id) };
  });

  app.post(API_ROUTES.dashboard.logout, everyone, async (request, reply) => {
    const id = sessionOf(request);
    if (sessions.get(id)) checkCsrf(request, id!);
    sessions.delete(id);
    void reply.header('set-cookie', cookie(request, '', 0));
    return { loggedOut: true };
  });

  return sessions;
}

/**
 * Where `npm run build:web` put the app: dist/web, next to the compiled daemon (dist/daemon/dashboard/ → dist/web)
 * or, when aiboxd runs from its sources, under the checkout (src/daemon/dashboard/ → dist/web).
 */
export function defaultWebDir(): string {
  const candidates = [
    new URL('../../web/', import.meta.url),
    new URL('../../../dist/web/', import.meta.url),
  ].map((u) => fileURLToPath(u));
  return candidates.find((d) => existsSync(path.join(d, 'index.html'))) ?? candidates[0]!;
}
