import { describe, expect, it } from 'vitest';
import { EgressFollower } from '../../src/daemon/dashboard/egress-follower.js';
import type { EgressDecision } from '../../src/egress/index.js';

const d = (id: string, time: number): EgressDecision => ({
  id,
  sandboxId: 'sbx_a',
  time,
  layer: 'dns',
  verdict: 'allow',
  reason: 'DNS_ALLOWED',
  target: `${id}.example`,
  kind: 'A',
});

describe('egress follower', () => {
  it('hands out only the decisions made since the last look, from subscription on', () => {
    let kept = [d('a', 1), d('b', 2)];
    const follower = new EgressFollower(() => kept, 60_000);
    const got: string[][] = [];
    const off = follower.subscribe((ds) => got.push(ds.map((x) => x.id)));
    follower.poll();
    kept = [...kept, d('c', 3)];
    follower.poll();
    follower.poll();
    // Evicted from the front (the buffer is bounded): still no repeat, nothing lost.
    kept = [kept[2]!, d('d', 4), d('e', 4)];
    follower.poll();
    // The last one sent was evicted too: by time.
    kept = [d('f', 5), d('g', 6)];
    follower.poll();
    off();
    expect(got).toEqual([['c'], ['d', 'e'], ['f', 'g']]);
  });

  it('starts from now when nothing was kept yet, and stops its timer with the last listener', () => {
    let kept: EgressDecision[] = [];
    const follower = new EgressFollower(
      () => kept,
      60_000,
      () => 100,
    );
    const got: string[] = [];
    const off = follower.subscribe((ds) => got.push(...ds.map((x) => x.id)));
    kept = [d('old', 50), d('new', 150)];
    follower.poll();
    expect(got).toEqual(['new']);
    off();
    expect((follower as unknown as { timer: unknown }).timer).toBeUndefined();
  });
});
