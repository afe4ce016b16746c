import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { readJsonFile, writeJsonAtomic } from '../../shared/fs/index.js';

/**
 * A dashboard login. What is kept — in memory and in the state file — is the sha256 of the session id and the
 * public id of the API token it stands for: never the session id itself (only the browser's HttpOnly cookie has
 * it) and never the token (its holder proved it once, at login). A copy of the state directory logs nobody in.
 */
export interface DashboardSession {
  key: string;
  tokenId: string;
  subject: string;
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

/** How far the saved last use may lag behind: one write a minute per busy session, not one per request. */
const SAVE_LAST_SEEN_MS = 60_000;

const SessionsFile = z.object({
  version: z.literal(1),
  sessions: z.array(
    z.object({
      key: z.string().regex(/^[0-9a-f]{64}$/),
      tokenId: z.string().min(1).max(200),
      subject: z.string().max(200),
      createdAt: z.number(),
      lastSeen: z.number(),
    }),
  ),
});

/**
 * Dashboard logins: the browser holds a random 256-bit session id in an HttpOnly cookie; the daemon keeps its hash
 * and the token id, in memory and, given a file, on disk (written atomically, 0600) so a daemon restart logs
 * nobody out. Each session's CSRF token is derived from its id (`csrfOf`), so it needs no storage either.
 */
export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();
  /** Requests whose identity came from a dashboard session (not from the caller's own Authorization header). */
  private readonly fromSession = new WeakSet<object>();
  private readonly saved = new Map<string, number>();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly limits: SessionLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
    private readonly file?: string,
  ) {}

  /**
   * The sessions saved in `file` that are still within their limits. A missing or damaged file is no sessions (a
   * login away), never an error that stops the daemon; the next save replaces it.
   */
  static async open(
    file: string | undefined,
    limits: SessionLimits = DEFAULT_LIMITS,
    now: () => number = Date.now,
  ): Promise<DashboardSessions> {
    const sessions = new DashboardSessions(limits, now, file);
    if (!file) return sessions;
    const loaded = await readJsonFile(file, SessionsFile).catch(() => undefined);
    const t = now();
    for (const s of (loaded?.sessions ?? []).sort((a, b) => a.lastSeen - b.lastSeen)) {
      if (t - s.lastSeen > limits.idleMs || t - s.createdAt > limits.maxAgeMs) continue;
      sessions.sessions.set(s.key, s);
      sessions.saved.set(s.key, s.lastSeen);
    }
    return sessions;
  }

  /** A new session for this token: its id goes to the cookie and nowhere else. */
  create(tokenId: string, subject: string): { id: string; session: DashboardSession } {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: DashboardSession = { key: keyOf(id), tokenId, subject, createdAt: t, lastSeen: t };
    this.sessions.set(session.key, session);
    while (this.sessions.size > this.limits.max) this.sessions.delete(this.sessions.keys().next().value!);
    this.save();
    return { id, session };
  }

  /** The live session of this id (touching it), or undefined when unknown or over a limit (it is dropped). */
  get(id: string | undefined): DashboardSession | undefined {
    if (!id) return undefined;
    const key = keyOf(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeen > this.limits.idleMs || t - s.createdAt > this.limits.maxAgeMs) {
      this.drop(key);
      return undefined;
    }
    s.lastSeen = t;
    // Re-inserted: the map's order is least recently used first.
    this.sessions.delete(key);
    this.sessions.set(key, s);
    if (t - (this.saved.get(key) ?? 0) >= SAVE_LAST_SEEN_MS) this.save();
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
    if (id) this.drop(keyOf(id));
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Resolves once every change so far is on disk (a failed write is retried by the next change). */
  flush(): Promise<void> {
    return this.saving;
  }

  private drop(key: string): void {
    if (this.sessions.delete(key)) this.save();
  }

  private save(): void {
    const file = this.file;
    if (!file) return;
    const write = async () => {
      const sessions = [...this.sessions.values()].map((s) => ({ ...s }));
      await writeJsonAtomic(file, { version: 1, sessions }, { mode: 0o600, mkdirMode: 0o700 });
      this.saved.clear();
      for (const s of sessions) this.saved.set(s.key, s.lastSeen);
    };
    // One write after the other, each with the state of its time; a failure leaves the next write to try again.
    this.saving = this.saving.then(write, write).catch(() => undefined);
  }
}

/** The CSRF token of a session: derived from its id, so only the holder of the cookie (via the page) learns it. */
export function csrfOf(id: string): string {
  return createHash('sha256').update(`aibox-dashboard-csrf\0${id}`).digest('base64url');
}

function keyOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
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
