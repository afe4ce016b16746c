/**
 * The warm pool's bookkeeping over a fake sandbox service (the real thing, with gVisor, is
 * test/integration/warm-pool.test.ts): fill to size, one claimer per sandbox, refill, max age, restart adoption,
 * a failing start retried without a hot loop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PoolConfig } from '../../src/config/index.js';
import { WarmPool, type PoolSandboxes } from '../../src/daemon/services/warm-pool.js';
import type { Logger } from '../../src/shared/index.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

class FakeSandboxes implements PoolSandboxes {
  readonly records = new Map<
    string,
    { id: string; name: string; pool: string; createdAt: string; running: boolean }
  >();
  readonly removed: string[] = [];
  starts = 0;
  failNext = 0;
  take: ((profile: string) => string | undefined) | undefined;
  private n = 0;

  constructor(private readonly now: () => number) {}

  async createEphemeral(request: { profile?: string }) {
    this.starts++;
    await new Promise((r) => setTimeout(r, 5));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('fake start failure');
    }
    const id = `sbx_${(++this.n).toString().padStart(4, '0')}`;
    const r = {
      id,
      name: `session-${id}`,
      pool: request.profile!,
      createdAt: new Date(this.now()).toISOString(),
      running: true,
    };
    this.records.set(id, r);
    return r;
  }
  async remove(name: string) {
    this.removed.push(name);
    for (const [id, r] of this.records) if (r.name === name) this.records.delete(id);
  }
  async pooled() {
    return [...this.records.values()];
  }
  usePool(take: (profile: string) => string | undefined) {
    this.take = take;
  }
  /** What SandboxService.claim does with the id: the record is no longer the pool's. */
  claim(profile: string): string | undefined {
    const id = this.take?.(profile);
    if (id) this.records.delete(id);
    return id;
  }
}

async function until(what: string, probe: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('warm pool', () => {
  let pool: WarmPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  const make = (
    profiles: Record<string, { size: number; maxAgeSeconds?: number }>,
    clock = { now: () => Date.now() },
  ) => {
    const sandboxes = new FakeSandboxes(() => clock.now());
    pool = new WarmPool({ sandboxes, config: PoolConfig.parse({ profiles }), logger: quiet, clock });
    return { sandboxes, pool };
  };

  it('fills to size, hands each sandbox to one claimer only, and refills', async () => {
    const { sandboxes, pool } = make({ session: { size: 2 } });
    await pool.start();
    await until('the pool to fill', () => pool.status()[0]!.ready === 2);
    expect(sandboxes.starts).toBe(2);
    const a = sandboxes.claim('session');
    const b = sandboxes.claim('session');
    const c = sandboxes.claim('session');
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(a).not.toBe(b);
    expect(c).toBeUndefined();
    expect(sandboxes.claim('default')).toBeUndefined();
    await until('the refill', () => pool.status()[0]!.ready === 2);
    expect(sandboxes.starts).toBe(4);
    expect(pool.status()).toEqual([
      { profile: 'session', size: 2, ready: 2, starting: 0, maxAgeSeconds: 3600 },
    ]);
  });

  it('never hands out a sandbox past its max age, and replaces it', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const { sandboxes, pool } = make({ session: { size: 1, maxAgeSeconds: 60 } }, clock);
    await pool.start();
    await until('the pool to fill', () => pool.status()[0]!.ready === 1);
    const first = [...sandboxes.records.keys()][0]!;
    now += 61_000;
    const claimed = sandboxes.claim('session');
    expect(claimed).toBeUndefined();
    await until('the old one removed', () => sandboxes.removed.includes(`session-${first}`));
    await until('a fresh one', () => pool.status()[0]!.ready === 1);
    expect(sandboxes.claim('session')).not.toBe(first);
  });

  it('adopts running, young pooled sandboxes after a restart and removes the others', async () => {
    const now = Date.now();
    const { sandboxes, pool } = make({ session: { size: 2, maxAgeSeconds: 600 } });
    const at = (ago: number) => new Date(now - ago).toISOString();
    for (const [id, ago, running, profile] of [
      ['sbx_a', 1000, true, 'session'],
      ['sbx_b', 700_000, true, 'session'], // too old
      ['sbx_c', 1000, false, 'session'], // not running
      ['sbx_d', 1000, true, 'gone'], // profile no longer pooled
      ['sbx_e', 2000, true, 'session'],
      ['sbx_f', 500, true, 'session'], // one too many
    ] as const)
      sandboxes.records.set(id, { id, name: `n-${id}`, pool: profile, createdAt: at(ago), running });
    await pool.start();
    expect(sandboxes.removed.sort()).toEqual(['n-sbx_b', 'n-sbx_c', 'n-sbx_d', 'n-sbx_f']);
    expect(pool.status()[0]!.ready).toBe(2);
    expect(sandboxes.starts).toBe(0);
    // Oldest first.
    expect(sandboxes.claim('session')).toBe('sbx_e');
    expect(sandboxes.claim('session')).toBe('sbx_a');
  });

  it('retries a failing start after a pause, not in a loop', async () => {
    const { sandboxes, pool } = make({ session: { size: 1 } });
    sandboxes.failNext = 1;
    await pool.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(sandboxes.starts).toBe(1);
    expect(pool.status()[0]!.ready).toBe(0);
    await until('the retry', () => pool.status()[0]!.ready === 1, 8000);
    expect(sandboxes.starts).toBe(2);
  }, 10_000);

  it('does nothing without a configured pool', async () => {
    const { sandboxes, pool } = make({});
    await pool.start();
    expect(sandboxes.starts).toBe(0);
    expect(sandboxes.claim('session')).toBeUndefined();
    expect(pool.status()).toEqual([]);
  });
});
