import type { Logger } from '../shared/index.js';

/**
 * Times one egress set-up step and writes one debug line for it (`{sandboxId, step, ms}`, "egress step"), so a slow
 * start can be read step by step from the daemon log; a failed step is logged too (with `failed: true`).
 */
export async function timedStep<T>(
  logger: Logger,
  sandboxId: string,
  step: string,
  work: () => Promise<T>,
): Promise<T> {
  const began = performance.now();
  let failed = true;
  try {
    const out = await work();
    failed = false;
    return out;
  } finally {
    const ms = Math.round((performance.now() - began) * 10) / 10;
    logger.debug({ sandboxId, step, ms, ...(failed ? { failed } : {}) }, 'egress step');
  }
}
