import { sessionErrors } from './errors.js';

export interface SessionLimits {
  /** Sessions one owner (a token, or a socket uid) may hold at once. */
  maxPerOwner: number;
  /** Sessions the daemon holds at once. */
  maxTotal: number;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  defaultIdleSeconds: number;
  maxIdleSeconds: number;
}

export interface LedgerEntry {
  readonly id: string;
  readonly owner: string;
  readonly createdAt: number;
  lastActivityAt: number;
  /** Absolute deadline (ms since the epoch). */
  readonly expiresAt: number;
  readonly idleMs: number;
}

export type ExpiryReason = 'idle' | 'absolute';

/**
 * Who holds which session and until when: the quota and TTL bookkeeping of sessions, pure (clock given), so the
 * service only asks it. A slot is reserved before the sandbox is created (two concurrent creates cannot both take
 * the last one) and released when the session is gone.
 */
export class SessionLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  constructor(
    readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a slot for `owner`, or throws SESSION_QUOTA (429) with when a slot should free up. */
  reserve(
    id: string,
    owner: string,
    requested: { ttlSeconds?: number | undefined; idleTtlSeconds?: number | undefined } = {},
  ): LedgerEntry {
    const mine = this.ofOwner(owner);
    const over =
      mine.length >= this.limits.maxPerOwner
        ? { scope: 'owner', limit: this.limits.maxPerOwner, held: mine }
        : this.entries.size >= this.limits.maxTotal
          ? { scope: 'total', limit: this.limits.maxTotal, held: [...this.entries.values()] }
          : undefined;
    if (over) {
      throw sessionErrors.create(
        'SESSION_QUOTA',
        over.scope === 'owner'
          ? `this token holds ${over.limit} sessions already (the most it may)`
          : `the daemon holds ${over.limit} sessions already (the most it may)`,
        { scope: over.scope, limit: over.limit, retryAfterSeconds: this.retryAfter(over.held) },
      );
    }
    const now = this.now();
    const ttl = Math.min(requested.ttlSeconds ?? this.limits.defaultTtlSeconds, this.limits.maxTtlSeconds);
    const idle = Math.min(
      requested.idleTtlSeconds ?? this.limits.defaultIdleSeconds,
      this.limits.maxIdleSeconds,
    );
    const entry: LedgerEntry = {
      id,
      owner,
      createdAt: now,
      lastActivityAt: now,
      expiresAt: now + ttl * 1000,
      idleMs: idle * 1000,
    };
    this.entries.set(id, entry);
    return entry;
  }

  /** Takes back a slot held before a daemon restart, with its original deadlines (no quota check). */
  restore(entry: LedgerEntry): void {
    this.entries.set(entry.id, {
      id: entry.id,
      owner: entry.owner,
      createdAt: entry.createdAt,
      lastActivityAt: entry.lastActivityAt,
      expiresAt: entry.expiresAt,
      idleMs: entry.idleMs,
    });
  }

  release(id: string): void {
    this.entries.delete(id);
  }

  get(id: string): LedgerEntry | undefined {
    return this.entries.get(id);
  }

  /** A request used the session: its idle clock starts again (the absolute deadline does not move). */
  touch(id: string): void {
    const entry = this.entries.get(id);
    if (entry) entry.lastActivityAt = this.now();
  }

  idleDeadline(entry: LedgerEntry): number {
    return Math.min(entry.lastActivityAt + entry.idleMs, entry.expiresAt);
  }

  ofOwner(owner: string): LedgerEntry[] {
    return [...this.entries.values()].filter((e) => e.owner === owner);
  }

  all(): LedgerEntry[] {
    return [...this.entries.values()];
  }

  /** Sessions past a deadline now, with which one. */
  expired(): { id: string; reason: ExpiryReason }[] {
    const now = this.now();
    const out: { id: string; reason: ExpiryReason }[] = [];
    for (const e of this.entries.values()) {
      if (now >= e.expiresAt) out.push({ id: e.id, reason: 'absolute' });
      else if (now >= e.lastActivityAt + e.idleMs) out.push({ id: e.id, reason: 'idle' });
    }
    return out;
  }

  /** Milliseconds until the next deadline (for the reaper's timer); undefined when nothing is held. */
  nextDeadlineInMs(): number | undefined {
    let next: number | undefined;
    for (const e of this.entries.values()) {
      const d = this.idleDeadline(e);
      if (next === undefined || d < next) next = d;
    }
    return next === undefined ? undefined : Math.max(0, next - this.now());
  }

  /** Seconds until the first of `held` reaches a deadline (at least 1): the Retry-After of a quota refusal. */
  private retryAfter(held: LedgerEntry[]): number {
    const now = this.now();
    const soonest = Math.min(...held.map((e) => this.idleDeadline(e)));
    return Number.isFinite(soonest) ? Math.max(1, Math.ceil((soonest - now) / 1000)) : 1;
  }
}
