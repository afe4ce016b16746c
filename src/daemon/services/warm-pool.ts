import type { PoolConfig } from '../../config/index.js';
import {
  DAEMON_CALLER,
  messageOf,
  systemClock,
  type Caller,
  type Clock,
  type Logger,
} from '../../shared/index.js';

/** What the pool needs of the sandbox service (src/daemon/services/sandboxes.ts). */
export interface PoolSandboxes {
  createEphemeral(
    request: { profile?: string },
    caller: Caller,
    options: { pooled: true },
  ): Promise<{ id: string; name: string }>;
  remove(name: string): Promise<void>;
  /** The pool's sandboxes on record (unclaimed ones carry `pool`), e.g. those a previous daemon life left. */
  pooled(): Promise<{ id: string; name: string; pool: string; createdAt: string; running: boolean }[]>;
  usePool(take: (profile: string) => string | undefined): void;
}

export interface PoolStatus {
  profile: string;
  size: number;
  ready: number;
  starting: number;
  maxAgeSeconds: number;
}

interface Pooled {
  id: string;
  name: string;
  /** ms since the epoch, when it was created. */
  createdAt: number;
}

/** Root starts the pool's sandboxes; the claim hands them to the claimer. */
const POOL_CALLER: Caller = DAEMON_CALLER;
/** How often ages are checked and a failed refill is retried, at most. */
const MAX_TICK_MS = 30_000;
/** How long after a claim the pool starts its replacement (while another pooled sandbox is still ready). */
const REFILL_DELAY_MS = 1000;
/** After a failed start, the next attempt waits at least this long (no hot loop against a broken runtime). */
const RETRY_AFTER_MS = 5_000;

/**
 * The warm pool: per configured profile, `size` sandboxes without a host folder, started ahead with every
 * enforcement layer up (they are ordinary sandboxes: policy changes reach them like any running one), waiting
 * unclaimed. A workspace-less create takes one (SandboxService.createEphemeral → take) instead of starting cold;
 * the pool refills in the background, one start at a time (a start is CPU-heavy on a small host), and removes
 * sandboxes older than maxAgeSeconds. After a daemon restart, the previous life's pooled sandboxes that are still
 * running and young enough are adopted, the others removed.
 */
export class WarmPool {
  private readonly ready = new Map<string, Pooled[]>();
  private readonly starting = new Map<string, number>();
  private readonly lastFailure = new Map<string, number>();
  private filling: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: Clock;

  constructor(
    private readonly deps: {
      sandboxes: PoolSandboxes;
      config: PoolConfig;
      logger: Logger;
      clock?: Clock;
    },
  ) {
    this.clock = deps.clock ?? systemClock;
  }

  private get profiles(): [string, { size: number; maxAgeSeconds: number }][] {
    return Object.entries(this.deps.config.profiles).filter(([, p]) => p.size > 0);
  }

  /** Adopts or removes what a previous daemon life left, then fills in the background. Call after adoptAndSweep. */
  async start(): Promise<void> {
    this.deps.sandboxes.usePool((profile) => this.take(profile));
    const now = this.clock.now();
    const configured = new Map(this.profiles);
    const leftovers = await this.deps.sandboxes.pooled();
    const removals: string[] = [];
    for (const s of leftovers.sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
      const conf = configured.get(s.pool);
      const created = Date.parse(s.createdAt);
      const list = this.ready.get(s.pool) ?? [];
      if (conf && s.running && now - created < conf.maxAgeSeconds * 1000 && list.length < conf.size) {
        list.push({ id: s.id, name: s.name, createdAt: created });
        this.ready.set(s.pool, list);
      } else removals.push(s.name);
    }
    for (const name of removals) await this.discard(name, 'left by a previous daemon, not adoptable');
    const adopted = [...this.ready.values()].reduce((n, l) => n + l.length, 0);
    if (leftovers.length > 0)
      this.deps.logger.info({ adopted, removed: removals.length }, 'warm pool: previous sandboxes recovered');
    if (this.profiles.length === 0) return;
    const shortest = Math.min(...this.profiles.map(([, p]) => p.maxAgeSeconds * 1000));
    this.timer = setInterval(() => void this.tick(), Math.max(1000, Math.min(MAX_TICK_MS, shortest / 2)));
    // Never keeps a closing daemon (or a test) alive.
    this.timer.unref();
    this.refill();
  }

  /**
   * A started, unclaimed sandbox of this profile (the oldest still young enough), or undefined. Synchronous: two
   * claims never get the same one. Its caller re-checks the record before handing it out.
   */
  take(profile: string): string | undefined {
    const list = this.ready.get(profile);
    const maxAge = this.deps.config.profiles[profile]?.maxAgeSeconds;
    if (!list || maxAge === undefined) return undefined;
    const now = this.clock.now();
    let taken: Pooled | undefined;
    while (!taken && list.length > 0) {
      const next = list.shift()!;
      if (now - next.createdAt < maxAge * 1000) taken = next;
      else void this.discard(next.name, 'too old');
    }
    // The replacement starts a moment later: a start is CPU-heavy, and the claimer's first commands come now.
    if (taken && list.length > 0) setTimeout(() => this.refill(), REFILL_DELAY_MS).unref();
    else this.refill();
    return taken?.id;
  }

  status(): PoolStatus[] {
    return Object.entries(this.deps.config.profiles).map(([profile, p]) => ({
      profile,
      size: p.size,
      ready: this.ready.get(profile)?.length ?? 0,
      starting: this.starting.get(profile) ?? 0,
      maxAgeSeconds: p.maxAgeSeconds,
    }));
  }

  /** Stops refilling. Pooled sandboxes stay (a restarted daemon adopts them); a start under way is waited for. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    await this.filling;
  }

  /** Starts what is missing, in the background; one fill at a time (a request during one runs another after it). */
  private refill(): void {
    if (this.closed) return;
    if (this.filling) {
      this.again = true;
      return;
    }
    this.filling = this.fill()
      .catch((err: unknown) => this.deps.logger.error({ err: messageOf(err) }, 'warm pool: fill failed'))
      .finally(() => {
        this.filling = undefined;
        if (this.again) {
          this.again = false;
          this.refill();
        }
      });
  }

  private async fill(): Promise<void> {
    for (const [profile, conf] of this.profiles) {
      while (!this.closed && (this.ready.get(profile)?.length ?? 0) < conf.size) {
        // Still in the pause after a failed start: come back when it is over (a timer may fire a moment early).
        const pause = RETRY_AFTER_MS - (this.clock.now() - (this.lastFailure.get(profile) ?? -Infinity));
        if (pause > 0) {
          this.retryIn(pause);
          break;
        }
        this.starting.set(profile, (this.starting.get(profile) ?? 0) + 1);
        try {
          const began = this.clock.now();
          const s = await this.deps.sandboxes.createEphemeral({ profile }, POOL_CALLER, { pooled: true });
          const list = this.ready.get(profile) ?? [];
          list.push({ id: s.id, name: s.name, createdAt: began });
          this.ready.set(profile, list);
          this.deps.logger.info(
            { sandbox: s.name, profile, ms: this.clock.now() - began, ready: list.length },
            'warm pool: sandbox ready',
          );
        } catch (err) {
          this.lastFailure.set(profile, this.clock.now());
          this.deps.logger.error({ profile, err: messageOf(err) }, 'warm pool: cannot start a sandbox');
          // Tried again once the pause is over (the base image may be built meanwhile), not in a hot loop.
          this.retryIn(RETRY_AFTER_MS);
          break;
        } finally {
          this.starting.set(profile, (this.starting.get(profile) ?? 1) - 1);
        }
      }
    }
  }

  /** One pending retry at a time: a refill once the pause after a failed start is over. */
  private retryIn(ms: number): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.refill();
    }, ms).unref();
  }

  /** Removes pooled sandboxes that are too old or no longer running, then refills. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    const now = this.clock.now();
    const records = new Map((await this.deps.sandboxes.pooled().catch(() => [])).map((r) => [r.id, r]));
    for (const [profile, list] of this.ready) {
      const maxAge = (this.deps.config.profiles[profile]?.maxAgeSeconds ?? 0) * 1000;
      for (const p of [...list]) {
        const record = records.get(p.id);
        const why = now - p.createdAt >= maxAge ? 'too old' : !record?.running ? 'not running' : undefined;
        const at = list.indexOf(p);
        // Claimed meanwhile (take is synchronous): no longer the pool's.
        if (!why || at < 0) continue;
        list.splice(at, 1);
        await this.discard(p.name, why);
      }
    }
    this.refill();
  }

  private async discard(name: string, why: string): Promise<void> {
    this.deps.logger.info({ sandbox: name, why }, 'warm pool: removing a pooled sandbox');
    await this.deps.sandboxes
      .remove(name)
      .catch((err: unknown) =>
        this.deps.logger.warn({ sandbox: name, err: messageOf(err) }, 'warm pool: cannot remove'),
      );
  }
}
