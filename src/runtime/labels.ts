import { createHash } from 'node:crypto';

/** Labels on every container aiboxd creates: how a restarted daemon finds, re-adopts or sweeps its sandboxes. */
export const LABELS = {
  managed: 'io.aibox.managed',
  daemon: 'io.aibox.daemon',
  sandboxId: 'io.aibox.sandbox.id',
  sandboxName: 'io.aibox.sandbox.name',
  profile: 'io.aibox.sandbox.profile',
} as const;

/** A daemon's id: derived from its state directory, so a restarted daemon finds its own containers and mounts. */
export function daemonIdFor(stateDir: string): string {
  return createHash('sha256').update(stateDir).digest('hex').slice(0, 12);
}
