import { describe, expect, it } from 'vitest';
import { KeyedMutex, Mutex } from '../../../src/shared/fs/index.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

/** A read-modify-write with a pause in the middle, as a JSON state file update has. */
async function increment(store: { n: number }): Promise<void> {
  const seen = store.n;
  await tick();
  store.n = seen + 1;
}

describe('KeyedMutex', () => {
  it('serialises the work of one key: no update is lost', async () => {
    const unguarded = { n: 0 };
    await Promise.all(Array.from({ length: 20 }, () => increment(unguarded)));
    expect(unguarded.n).toBeLessThan(20); // what the mutex is for

    const mutex = new KeyedMutex();
    const guarded = { n: 0 };
    await Promise.all(Array.from({ length: 20 }, () => mutex.run('file', () => increment(guarded))));
    expect(guarded.n).toBe(20);
    expect(mutex.size).toBe(0);
  });

  it('runs different keys side by side and keeps order within a key', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = mutex.run('a', async () => {
      events.push('a1 start');
      await gate;
      events.push('a1 end');
    });
    const a2 = mutex.run('a', async () => {
      events.push('a2');
    });
    const b = mutex.run('b', async () => {
      events.push('b');
    });
    await b;
    expect(events).toEqual(['a1 start', 'b']);
    release();
    await Promise.all([a1, a2]);
    expect(events).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
  });

  it('goes on after a failure and hands each caller its own result', async () => {
    const mutex = new Mutex();
    const failed = mutex.run(async () => {
      throw new Error('boom');
    });
    const next = mutex.run(async () => 7);
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe(7);
  });
});
