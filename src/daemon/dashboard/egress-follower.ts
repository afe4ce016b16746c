import type { EgressDecision } from '../../egress/index.js';

export type EgressListener = (decisions: EgressDecision[]) => void;

/**
 * Follows the egress decisions the daemon keeps in memory (oldest first, bounded) for live views: while someone
 * listens, looks every interval for the decisions made since the last look. Allowed requests are not in the audit
 * log (one line per DNS answer would drown it), so the audit follower cannot carry them. One timer per follower,
 * none while nobody listens.
 */
export class EgressFollower {
  private readonly listeners = new Set<EgressListener>();
  private timer: NodeJS.Timeout | undefined;
  /** The newest decision already handed out, and its time (for when it has been evicted since). */
  private last: EgressDecision | undefined;
  private lastTime = 0;

  constructor(
    private readonly recent: () => EgressDecision[],
    private readonly intervalMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  subscribe(fn: EgressListener): () => void {
    if (this.listeners.size === 0) {
      // A live view shows what happens from now on.
      this.last = this.recent().at(-1);
      this.lastTime = this.last?.time ?? this.now();
    }
    this.listeners.add(fn);
    this.timer ??= setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  poll(): void {
    const all = this.recent();
    const at = this.last ? all.lastIndexOf(this.last) : -1;
    // The last one sent was evicted (thousands of decisions within one interval): go by time instead.
    const fresh = at >= 0 ? all.slice(at + 1) : all.filter((d) => d.time > this.lastTime);
    if (fresh.length === 0) return;
    this.last = fresh.at(-1);
    this.lastTime = this.last?.time ?? this.lastTime;
    for (const fn of this.listeners) fn(fresh);
  }
}
