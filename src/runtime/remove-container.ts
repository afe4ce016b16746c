import type Docker from 'dockerode';
import { messageOf } from '../shared/index.js';

/**
 * Removes a container with its volumes; gone already counts as removed. A container caught mid-create or mid-stop
 * (a daemon killed during a start) can refuse removal for a moment ("improper state"): tried three times in all,
 * `onRetry` told of each refusal before the next try.
 */
export async function removeContainerRetrying(
  docker: Docker,
  containerId: string,
  onRetry?: (attempt: number, err: unknown) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const err = await docker
      .getContainer(containerId)
      .remove({ force: true, v: true })
      .then(
        () => undefined,
        (e: unknown) => (/no such|404/i.test(messageOf(e)) ? undefined : e),
      );
    if (!err) return;
    if (attempt === 3) throw err instanceof Error ? err : new Error(messageOf(err));
    onRetry?.(attempt, err);
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
}
