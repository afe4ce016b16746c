import {
  DEFAULT_RESTART_LIMITS,
  decideRestart,
  type RestartLimits,
  type RestartMode,
  type ServiceExit,
} from './restart-policy.js';

export type ServiceState = 'running' | 'restarting' | 'failed' | 'stopped';

/** A companion service's health as `aibox status` shows it (and the daemon keeps on its record). */
export interface ServiceHealth {
  state: ServiceState;
  /** Restarts the daemon made (each attempt counts, whether or not the service came up). */
  restarts: number;
  lastExitCode?: number;
  /** Why it is failed or stopped. */
  reason?: string;
  /** When the restarts so far began (ms since the epoch): the backoff's window survives a daemon restart. */
  restartTimes?: number[];
}

/** Timers the supervisor uses; tests pass a fake clock. */
export interface SupervisorTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: SupervisorTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The checks never keep the daemon alive on their own.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** One watched service: how to see whether it still runs, and how to run it again. */
export interface Supervised {
  readonly key: string;
  readonly mode: RestartMode;
  /** undefined while it runs; how it ended once it did. Throws when it cannot tell now (tried again next time). */
  probe(): Promise<ServiceExit | undefined>;
  /** Runs its command again and waits until it listens; throws when it does not. */
  relaunch(): Promise<void>;
}

export type HealthEvent = 'exited' | 'restarted' | 'failed' | 'stopped';

export interface SupervisorOptions {
  /** How often every running service is checked (one request per service to its sandbox's exec agent). */
  intervalMs: number;
  timers?: SupervisorTimers;
  limits?: RestartLimits;
  /** After every change of a service's health (persist, log, audit). Errors are the caller's to handle. */
  onChange(key: string, health: ServiceHealth, event: HealthEvent, detail: string): Promise<void>;
}

interface Entry {
  s: Supervised;
  health: ServiceHealth;
  /** A probe, wait or relaunch is under way: the periodic check leaves it alone. */
  busy: boolean;
  timer?: unknown;
}

/**
 * Watches companion services with one cheap periodic check for all of them and applies each one's restart policy
 * (restart-policy.ts) when its command ended: `restarting` during the backoff and the relaunch, `running` once it
 * listens again, `failed` when the policy gives up (or says `no`), `stopped` after a clean exit.
 */
export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private readonly timers: SupervisorTimers;
  private readonly limits: RestartLimits;
  private ticker: unknown;
  private closed = false;

  constructor(private readonly options: SupervisorOptions) {
    this.timers = options.timers ?? realTimers;
    this.limits = options.limits ?? DEFAULT_RESTART_LIMITS;
  }

  /** Starts watching a service that runs now (`health` from its record after a daemon restart). */
  watch(s: Supervised, health: ServiceHealth = { state: 'running', restarts: 0 }): void {
    this.unwatch(s.key);
    this.entries.set(s.key, { s, health: { ...health, state: 'running' }, busy: false });
    this.arm();
  }

  /** Applies the policy to a service found not running (after a daemon restart), as if it had just ended. */
  ended(s: Supervised, exit: ServiceExit, health: ServiceHealth): void {
    this.unwatch(s.key);
    const entry: Entry = { s, health: { ...health }, busy: true };
    this.entries.set(s.key, entry);
    void this.handleExit(entry, exit);
    this.arm();
  }

  unwatch(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.timer !== undefined) this.timers.clearTimeout(e.timer);
    this.entries.delete(key);
  }

  health(key: string): ServiceHealth | undefined {
    const e = this.entries.get(key);
    return e ? { ...e.health } : undefined;
  }

  close(): void {
    this.closed = true;
    if (this.ticker !== undefined) this.timers.clearTimeout(this.ticker);
    this.ticker = undefined;
    for (const key of [...this.entries.keys()]) this.unwatch(key);
  }

  /** One round of checks (the timer calls it; tests too). */
  async tick(): Promise<void> {
    for (const entry of [...this.entries.values()]) {
      if (entry.busy || entry.health.state !== 'running') continue;
      entry.busy = true;
      let exit: ServiceExit | undefined;
      try {
        exit = await entry.s.probe();
      } catch {
        // Cannot tell now (the agent is busy, the daemon is shutting down): the next round asks again.
        exit = undefined;
      }
      if (!exit || !this.current(entry)) {
        entry.busy = false;
        continue;
      }
      await this.handleExit(entry, exit);
    }
  }

  /** Re-arms the one periodic check while anything is watched (no timer at all otherwise). */
  private arm(): void {
    if (this.closed || this.ticker !== undefined || this.entries.size === 0) return;
    this.ticker = this.timers.setTimeout(() => {
      void this.tick().finally(() => {
        this.ticker = undefined;
        this.arm();
      });
    }, this.options.intervalMs);
  }

  private current(entry: Entry): boolean {
    return !this.closed && this.entries.get(entry.s.key) === entry;
  }

  private async handleExit(entry: Entry, exit: ServiceExit): Promise<void> {
    const now = this.timers.now();
    const h = entry.health;
    if (exit.exitCode !== undefined) h.lastExitCode = exit.exitCode;
    const decision = decideRestart(entry.s.mode, exit, h.restartTimes ?? [], now, this.limits);
    if (decision.action !== 'restart') {
      h.state = decision.action === 'fail' ? 'failed' : 'stopped';
      h.reason = decision.reason;
      entry.busy = false;
      await this.emit(entry, decision.action === 'fail' ? 'failed' : 'stopped', decision.reason);
      return;
    }
    h.state = 'restarting';
    delete h.reason;
    await this.emit(entry, 'exited', `restarting in ${decision.delayMs} ms`);
    if (!this.current(entry)) return;
    entry.timer = this.timers.setTimeout(() => {
      entry.timer = undefined;
      void this.restart(entry);
    }, decision.delayMs);
  }

  private async restart(entry: Entry): Promise<void> {
    if (!this.current(entry)) return;
    const h = entry.health;
    h.restarts += 1;
    // Only the window's restarts matter to the policy: older ones are dropped.
    h.restartTimes = [
      ...(h.restartTimes ?? []).filter((t) => this.timers.now() - t < this.limits.windowMs),
      this.timers.now(),
    ];
    try {
      await entry.s.relaunch();
    } catch (err) {
      if (!this.current(entry)) return;
      await this.handleExit(entry, { why: `its restart failed: ${(err as Error).message}` });
      return;
    }
    if (!this.current(entry)) return;
    h.state = 'running';
    delete h.reason;
    entry.busy = false;
    await this.emit(entry, 'restarted', `running again after restart ${h.restarts}`);
  }

  private async emit(entry: Entry, event: HealthEvent, detail: string): Promise<void> {
    if (!this.current(entry)) return;
    await this.options.onChange(entry.s.key, { ...entry.health }, event, detail).catch(() => undefined);
  }
}
