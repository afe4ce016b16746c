import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { removeContainerRetrying } from '../../src/runtime/remove-container.js';

/** A Docker handle whose container removal answers from a script, one answer per call. */
function scripted(answers: (Error | undefined)[]) {
  const calls: unknown[] = [];
  const docker = {
    getContainer: () => ({
      remove: async (opts: unknown) => {
        calls.push(opts);
        const next = answers.shift();
        if (next) throw next;
      },
    }),
  } as unknown as Docker;
  return { docker, calls };
}

describe('removeContainerRetrying', () => {
  it('tries again after a refusal and reports it', async () => {
    const { docker, calls } = scripted([new Error('container is in an improper state'), undefined]);
    const retries: number[] = [];
    await removeContainerRetrying(docker, 'c1', (attempt) => retries.push(attempt));
    expect(calls).toEqual([
      { force: true, v: true },
      { force: true, v: true },
    ]);
    expect(retries).toEqual([1]);
  });

  it('counts a container already gone as removed', async () => {
    const { docker, calls } = scripted([new Error('no such container')]);
    await removeContainerRetrying(docker, 'c1');
    expect(calls).toHaveLength(1);
  });

  it('gives up after three refusals with the last error', async () => {
    const refusal = () => new Error('improper state');
    const { docker, calls } = scripted([refusal(), refusal(), new Error('still improper')]);
    await expect(removeContainerRetrying(docker, 'c1')).rejects.toThrow('still improper');
    expect(calls).toHaveLength(3);
  });
});
