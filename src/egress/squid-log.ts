import { open } from 'node:fs/promises';
import type { Logger } from '../shared/index.js';
import { parseSquidLogLine, type DecisionSink } from './decisions.js';

/**
 * Follows one Squid's access log (one line per request, unbuffered) into the decision sink. A file rather than a
 * socket: it survives a daemon restart, and the lines written meanwhile are read on adopt.
 */
export class SquidLogTail {
  private offset = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private reading = false;

  constructor(
    private readonly path: string,
    private readonly sink: DecisionSink,
    private readonly logger: Logger,
    private readonly intervalMs = 50,
  ) {}

  start(fromOffset = 0): void {
    this.offset = fromOffset;
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  /** Reads what is there now; resolves once every complete line written so far went to the sink. */
  async poll(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
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
    } finally {
      this.reading = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.poll();
  }
}
