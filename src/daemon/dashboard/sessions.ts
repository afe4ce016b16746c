import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface DashboardSession {
  id: string;
  /** The API token the user logged in with: it never leaves the daemon again (not in the cookie, not in answers). */
  token: string;
  subject: string;
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

export interface SessionLimits {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after login whatever its use. */
  maxAgeMs: number;
  /** Sessions kept at most; the least recently used goes first. */
  max: number;
}

export const DEFAULT_LIMITS: SessionLimits = { idleMs: 2 * 3600_000, maxAgeMs: 12 * 3600_000, max: 1000 };

/**
 * Dashboard logins, in memory only (a daemon restart logs everyone out): the browser holds a random session id in
 * an HttpOnly cookie; the token stays here. Each session has its own CSRF token, which the page reads from
 * GET /dashboard/session and sends back in a header on every state-changing call.
 */
export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();
  /** Requests whose token came from a dashboard session (not from the caller's own Authorization header). */
  private readonly fromSession = new WeakSet<object>();

  constructor(
    private readonly limits: SessionLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  create(token: string, subject: string): DashboardSession {
    const t = this.now();
    const session: DashboardSession = {
      id: randomBytes(32).toString('base64url'),
      token,
      subject,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: t,
      lastSeen: t,
    };
    this.sessions.set(session.id, session);
    while (this.sessions.size > this.limits.max) this.sessions.delete(this.sessions.keys().next().value!);
    return session;
  }

  /** The live session of this id (touching it), or undefined when unknown or over a limit (it is dropped). */
  get(id: string | undefined): DashboardSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeen > this.limits.idleMs || t - s.createdAt > this.limits.maxAgeMs) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = t;
    // Re-inserted: the map's order is least recently used first.
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  /** Marks a request as authenticated by a dashboard session. */
  mark(raw: object): void {
    this.fromSession.add(raw);
  }

  /** Whether a request was authenticated by a dashboard session. */
  served(raw: object): boolean {
    return this.fromSession.has(raw);
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** Constant-time comparison of two tokens (a length difference is not secret). */
export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of one cookie in a Cookie header (no decoding: our values are base64url). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
