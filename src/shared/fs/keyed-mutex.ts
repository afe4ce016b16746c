/**
 * Serialises async work per key: a `run` for a key starts when the previous one for that key settled (resolved or
 * threw), different keys run side by side. In-process only: it orders this daemon's read-modify-writes of one file.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      // The last waiter of a key removes it: the map holds only keys with work in flight.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with work running or waiting (tests, diagnostics). */
  get size(): number {
    return this.tails.size;
  }
}

/** One lane of `KeyedMutex`: serialises every `run` of this instance. */
export class Mutex {
  private readonly lanes = new KeyedMutex();

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.lanes.run('', fn);
  }
}
