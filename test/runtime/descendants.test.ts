/**
 * descendantsOf walks only the process's own subtree (children files), and finds what a scan of every process's
 * parent link finds: grandchildren included, nothing outside the tree.
 */
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { descendantsOf } from '../../src/runtime/limits.js';

/** The subtree from `ps` (every process's parent link). */
async function byPs(root: number): Promise<number[]> {
  const rows = (await execa('ps', ['-e', '-o', 'pid=,ppid='])).stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of rows) if (ppid === out[i]) out.push(pid);
  return out;
}

describe('descendantsOf', () => {
  let child: ReturnType<typeof execa> | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
  });

  it('finds children and grandchildren, and only them', async () => {
    child = execa('sh', ['-c', 'sleep 30 & sleep 30 & (sleep 30 & sleep 30 & wait) & wait'], {
      reject: false,
    });
    const root = child.pid!;
    // Until the shells forked everything: 2 sleeps, 1 subshell, 2 sleeps in it.
    let expected: number[] = [];
    for (let i = 0; i < 50 && expected.length < 6; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expected = await byPs(root);
    }
    expect(expected.length).toBe(6);
    const found = await descendantsOf(root);
    expect(found[0]).toBe(root);
    expect([...found].sort()).toEqual([...expected].sort());
    expect(found).not.toContain(process.pid);
  });
});
