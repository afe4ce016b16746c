/** What services.yaml's `restart` says (compose's names): restart after a failure, or never. */
export type RestartMode = 'on-failure' | 'no';

export interface RestartLimits {
  /** The first restart waits this long; each further one in the window twice as long. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** At most this many restarts within `windowMs`; the next failure gives up (the service is `failed`). */
  maxRestarts: number;
  windowMs: number;
}

export const DEFAULT_RESTART_LIMITS: RestartLimits = {
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRestarts: 5,
  windowMs: 10 * 60_000,
};

/** How a service's command ended: its exit code (128+signal when killed) when known, and why it cannot be restarted. */
export interface ServiceExit {
  exitCode?: number;
  /** How it ended, in words, when the exit code does not say it (a restart that never listened). */
  why?: string;
  /** Set when restarting the command cannot help (its container is gone): failed at once. */
  fatal?: string;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number }
  | { action: 'fail'; reason: string }
  | { action: 'stop'; reason: string };

/**
 * What to do after a service's command ended. `earlier`: when the restarts so far began (ms), any age. Pure: the
 * caller owns the clock. A clean exit (0) is not a failure: the service is `stopped`, as compose does.
 */
export function decideRestart(
  mode: RestartMode,
  exit: ServiceExit,
  earlier: readonly number[],
  now: number,
  limits: RestartLimits = DEFAULT_RESTART_LIMITS,
): RestartDecision {
  const ended =
    exit.why ??
    (exit.exitCode === undefined ? 'its command ended' : `its command exited with code ${exit.exitCode}`);
  if (exit.fatal) return { action: 'fail', reason: exit.fatal };
  if (exit.exitCode === 0) return { action: 'stop', reason: ended };
  if (mode === 'no') return { action: 'fail', reason: `${ended} (restart: no)` };
  const recent = earlier.filter((t) => now - t < limits.windowMs).length;
  if (recent >= limits.maxRestarts)
    return {
      action: 'fail',
      reason: `${ended}; gave up after ${recent} restarts within ${Math.round(limits.windowMs / 1000)} s`,
    };
  return { action: 'restart', delayMs: Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** recent) };
}
