import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Logger } from '../shared/index.js';
import { parseSquidLogLine, type DecisionSink } from './decisions.js';

/**
 * Follows one Squid's access log (one line per request, unbuffered) into the decision sink. A file rather than a
 * socket: it survives a daemon restart, and the lines written meanwhile are read on adopt.
 *
 * Reads on inotify events (fs.watch on the file), with a slow periodic read as a safety net. Polling every 50 ms
 * instead cost every sandbox an open/fstat/close 20 times a second on the daemon's shared libuv thread pool — with
 * 50 idle sandboxes 3,000 file operations a second competing with every start.
 */
export class SquidLogTail {
  private offset = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly sink: DecisionSink,
    private readonly logger: Logger,
    /** The safety-net read interval while the file is watched; without a watch, the poll interval. */
    private readonly intervalMs = 1000,
    private readonly unwatchedIntervalMs = 250,
  ) {}

  start(fromOffset = 0): void {
    this.offset = fromOffset;
    try {
      const w = watch(this.path, () => void this.poll());
      w.on('error', () => {
        w.close();
        if (this.watcher === w) this.watcher = undefined;
      });
      w.unref();
      this.watcher = w;
    } catch {
      // Not there (yet): the periodic read covers it.
    }
    this.timer = setInterval(
      () => void this.poll(),
      this.watcher ? this.intervalMs : this.unwatchedIntervalMs,
    );
    this.timer.unref();
  }

  /** Reads what is there now; resolves once every complete line written so far went to the sink. */
  poll(): Promise<void> {
    // At most one read runs and one waits: events during a read coalesce into the one after it.
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.readNew().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued = this.running.then(() => {
      this.queued = undefined;
      return this.poll();
    });
    return this.queued;
  }

  private async readNew(): Promise<void> {
    try {
      const fh = await open(this.path, 'r').catch(() => undefined);
      if (!fh) return;
      try {
        const { size } = await fh.stat();
        if (size < this.offset) this.offset = 0; // truncated
        if (size === this.offset) return;
        const buf = Buffer.alloc(size - this.offset);
        await fh.read(buf, 0, buf.length, this.offset);
        this.offset = size;
        const lines = (this.partial + buf.toString('utf8')).split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) {
          const decision = parseSquidLogLine(line);
          if (decision) this.sink(decision);
        }
      } finally {
        await fh.close();
      }
    } catch (err) {
      this.logger.warn({ path: this.path, err: (err as Error).message }, 'cannot read the proxy access log');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.poll();
  }
}
