import path from 'node:path';
import { z } from 'zod';
import type { Clock, Logger } from '../shared/index.js';
import { newId } from '../shared/index.js';
import { writeJsonAtomic } from '../shared/fs/index.js';
import type { NotificationsConfig } from './config.js';

export const Notification = z.object({
  id: z.string(),
  kind: z.enum(['push.pending', 'task.completed', 'sandbox.blocked']),
  at: z.string(),
  title: z.string().describe('One line a person reads in a desktop notification.'),
  sandbox: z.string().optional(),
  pushId: z.string().optional(),
  task: z.string().optional(),
  action: z
    .string()
    .optional()
    .describe('The command that moves things forward, e.g. `aibox push show push_…`.'),
});
export type Notification = z.infer<typeof Notification>;
export type NotificationInput = Omit<Notification, 'id' | 'at'>;

/** Runs the configured notification command (execa lives in exec-named files; see notify-exec.ts). */
export type CommandRunner = (argv: readonly string[], input: string, timeoutMs: number) => Promise<void>;

/**
 * Tells the host that something waits for a person: a JSON file per notification in a watched folder (the
 * ai-agents-sandbox design), plus an optional command and webhook. Delivery failures are logged, never thrown: a
 * broken notifier must not fail the push that triggered it.
 */
export class Notifier {
  constructor(
    private readonly config: NotificationsConfig,
    private readonly deps: { logger: Logger; clock: Clock; runCommand: CommandRunner; fetch?: typeof fetch },
  ) {}

  async notify(input: NotificationInput): Promise<Notification> {
    const n: Notification = { id: newId('ntf'), at: new Date(this.deps.clock.now()).toISOString(), ...input };
    const body = JSON.stringify(n);
    const jobs: Promise<void>[] = [];
    if (this.config.dir) {
      const file = path.join(this.config.dir, `${n.at.replace(/[:.]/g, '-')}-${n.id}.json`);
      jobs.push(writeJsonAtomic(file, n, { mode: 0o600, mkdirMode: 0o700 }));
    }
    if (this.config.command)
      jobs.push(this.deps.runCommand(this.config.command, body, this.config.timeoutMs));
    if (this.config.webhook) jobs.push(this.post(this.config.webhook, body));
    const results = await Promise.allSettled(jobs);
    for (const r of results) {
      if (r.status === 'rejected') {
        this.deps.logger.warn({ kind: n.kind, err: String(r.reason) }, 'notification delivery failed');
      }
    }
    return n;
  }

  private async post(url: string, body: string): Promise<void> {
    const res = await (this.deps.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(this.config.timeoutMs),
    });
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  }
}
