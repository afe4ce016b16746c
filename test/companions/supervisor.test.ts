import { describe, expect, it } from 'vitest';
import {
  decideRestart,
  Supervisor,
  type HealthEvent,
  type ServiceExit,
  type ServiceHealth,
  type SupervisorTimers,
} from '../../src/companions/index.js';

const limits = { baseDelayMs: 1_000, maxDelayMs: 8_000, maxRestarts: 3, windowMs: 60_000 };

describe('decideRestart', () => {
  it('backs off 1 s, 2 s, 4 s… capped, within the window', () => {
    expect(decideRestart('on-failure', { exitCode: 137 }, [], 0, limits)).toEqual({
      action: 'restart',
      delayMs: 1_000,
    });
    expect(decideRestart('on-failure', { exitCode: 1 }, [0], 10, limits)).toEqual({
      action: 'restart',
      delayMs: 2_000,
    });
    expect(decideRestart('on-failure', { exitCode: 1 }, [0, 1], 10, { ...limits, maxRestarts: 9 })).toEqual({
      action: 'restart',
      delayMs: 4_000,
    });
    expect(
      decideRestart('on-failure', { exitCode: 1 }, [0, 1, 2, 3, 4], 10, { ...limits, maxRestarts: 9 }),
    ).toEqual({ action: 'restart', delayMs: 8_000 });
  });

  it('gives up after maxRestarts within the window, and forgets restarts older than it', () => {
    const d = decideRestart('on-failure', { exitCode: 137 }, [0, 1, 2], 10, limits);
    expect(d).toMatchObject({ action: 'fail' });
    expect((d as { reason: string }).reason).toBe(
      'its command exited with code 137; gave up after 3 restarts within 60 s',
    );
    expect(decideRestart('on-failure', { exitCode: 137 }, [0, 1, 2], 60_002, limits)).toEqual({
      action: 'restart',
      delayMs: 1_000,
    });
  });

  it('restart: no fails at once; a clean exit stops; a fatal end fails whatever the mode', () => {
    expect(decideRestart('no', { exitCode: 137 }, [], 0, limits)).toEqual({
      action: 'fail',
      reason: 'its command exited with code 137 (restart: no)',
    });
    expect(decideRestart('on-failure', { exitCode: 0 }, [], 0, limits)).toEqual({
      action: 'stop',
      reason: 'its command exited with code 0',
    });
    expect(decideRestart('on-failure', { fatal: 'its container exited' }, [], 0, limits)).toEqual({
      action: 'fail',
      reason: 'its container exited',
    });
  });
});

/** A fake clock: timers fire only when the test advances time. */
function fakeTimers() {
  let now = 1_000_000;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: SupervisorTimers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      pending.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => void pending.delete(h as number),
  };
  /** Moves time on, firing due timers in order and letting their promises settle. */
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = [...pending.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].fn();
      for (let i = 0; i < 20; i++) await Promise.resolve();
    }
    now = until;
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return { timers, advance, pending };
}

function service(mode: 'on-failure' | 'no') {
  const state = { alive: true, exit: { exitCode: 137 } as ServiceExit, relaunches: 0, relaunchFails: false };
  return {
    state,
    s: {
      key: 'cmp_1',
      mode,
      probe: () => Promise.resolve(state.alive ? undefined : state.exit),
      relaunch: () => {
        state.relaunches++;
        if (state.relaunchFails) return Promise.reject(new Error('nothing listens on port 6379'));
        state.alive = true;
        return Promise.resolve();
      },
    },
  };
}

function supervisor(timers: SupervisorTimers) {
  const events: { event: HealthEvent; health: ServiceHealth; detail: string }[] = [];
  const sup = new Supervisor({
    intervalMs: 3_000,
    timers,
    limits,
    onChange: (_key, health, event, detail) => {
      events.push({ event, health, detail });
      return Promise.resolve();
    },
  });
  return { sup, events };
}

describe('Supervisor', () => {
  it('notices an exit at the next check, is restarting during the backoff, running again after it', async () => {
    const { timers, advance } = fakeTimers();
    const { sup, events } = supervisor(timers);
    const svc = service('on-failure');
    sup.watch(svc.s);
    await advance(3_000);
    expect(events).toEqual([]);
    svc.state.alive = false;
    await advance(3_000);
    expect(sup.health('cmp_1')).toMatchObject({ state: 'restarting', restarts: 0, lastExitCode: 137 });
    expect(svc.state.relaunches).toBe(0);
    await advance(999);
    expect(svc.state.relaunches).toBe(0);
    await advance(1);
    expect(svc.state.relaunches).toBe(1);
    expect(sup.health('cmp_1')).toMatchObject({ state: 'running', restarts: 1, lastExitCode: 137 });
    expect(events.map((e) => e.event)).toEqual(['exited', 'restarted']);
    sup.close();
  });

  it('backs off longer each time and gives up after maxRestarts in the window: failed', async () => {
    const { timers, advance } = fakeTimers();
    const { sup, events } = supervisor(timers);
    const svc = service('on-failure');
    svc.state.relaunchFails = true;
    sup.watch(svc.s);
    svc.state.alive = false;
    await advance(3_000); // noticed: first restart in 1 s
    await advance(1_000); // restart 1 fails: next in 2 s
    expect(svc.state.relaunches).toBe(1);
    await advance(1_999);
    expect(svc.state.relaunches).toBe(1);
    await advance(1); // restart 2 fails: next in 4 s
    expect(svc.state.relaunches).toBe(2);
    await advance(4_000); // restart 3 fails: gives up
    expect(svc.state.relaunches).toBe(3);
    const h = sup.health('cmp_1')!;
    expect(h.state).toBe('failed');
    expect(h.restarts).toBe(3);
    expect(h.reason).toBe(
      'its restart failed: nothing listens on port 6379; gave up after 3 restarts within 60 s',
    );
    // Failed: no more checks, no more restarts.
    await advance(60_000);
    expect(svc.state.relaunches).toBe(3);
    expect(events.at(-1)!.event).toBe('failed');
    sup.close();
  });

  it('restart: no → failed at once, with the exit code', async () => {
    const { timers, advance } = fakeTimers();
    const { sup, events } = supervisor(timers);
    const svc = service('no');
    sup.watch(svc.s);
    svc.state.alive = false;
    await advance(3_000);
    expect(sup.health('cmp_1')).toMatchObject({ state: 'failed', restarts: 0, lastExitCode: 137 });
    expect(events.map((e) => e.event)).toEqual(['failed']);
    await advance(10_000);
    expect(svc.state.relaunches).toBe(0);
    sup.close();
  });

  it('a probe that cannot tell is asked again; unwatch and close leave no timer', async () => {
    const { timers, advance, pending } = fakeTimers();
    const { sup, events } = supervisor(timers);
    let calls = 0;
    sup.watch({
      key: 'cmp_2',
      mode: 'on-failure',
      probe: () => (++calls === 1 ? Promise.reject(new Error('busy')) : Promise.resolve(undefined)),
      relaunch: () => Promise.resolve(),
    });
    await advance(6_000);
    expect(calls).toBe(2);
    expect(events).toEqual([]);
    sup.unwatch('cmp_2');
    await advance(3_000);
    expect(pending.size).toBe(0);
    sup.watch(service('on-failure').s);
    expect(pending.size).toBe(1);
    sup.close();
    expect(pending.size).toBe(0);
  });

  it('ended(): a service found down after a daemon restart keeps its window and count', async () => {
    const { timers, advance } = fakeTimers();
    const { sup } = supervisor(timers);
    const svc = service('on-failure');
    svc.state.alive = false;
    const t = timers.now();
    sup.ended(
      svc.s,
      { why: 'not listening after a daemon restart' },
      {
        state: 'running',
        restarts: 3,
        restartTimes: [t - 3, t - 2, t - 1],
      },
    );
    await advance(0);
    expect(sup.health('cmp_1')).toMatchObject({
      state: 'failed',
      reason: 'not listening after a daemon restart; gave up after 3 restarts within 60 s',
    });
    sup.close();
  });
});
