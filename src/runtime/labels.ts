/** Labels on every container aiboxd creates: how a restarted daemon finds, re-adopts or sweeps its sandboxes. */
export const LABELS = {
  managed: 'io.aibox.managed',
  daemon: 'io.aibox.daemon',
  sandboxId: 'io.aibox.sandbox.id',
  sandboxName: 'io.aibox.sandbox.name',
  profile: 'io.aibox.sandbox.profile',
} as const;
