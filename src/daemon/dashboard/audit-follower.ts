import { open, stat } from 'node:fs/promises';
import { AuditRecord } from '../../audit/index.js';

export type AuditListener = (records: AuditRecord[]) => void;

/**
 * Follows the audit log file for live views: polls its size while someone listens and reads only the bytes
 * appended since the last look (never the whole log), parsing complete lines. One follower per app; no timer runs
 * while nobody listens.
 */
export class AuditFollower {
  private readonly listeners = new Set<AuditListener>();
  private timer: NodeJS.Timeout | undefined;
  private offset: number | undefined;
  private lastSeq = 0;
  private partial = '';
  private reading = false;

  constructor(
    private readonly file: () => string,
    private readonly intervalMs = 1_000,
  ) {}

  async subscribe(fn: AuditListener): Promise<() => void> {
    if (this.offset === undefined) {
      // Start at the end: a live view shows what happens from now on.
      this.offset = await stat(this.file()).then(
        (s) => s.size,
        () => 0,
      );
    }
    this.listeners.add(fn);
    this.timer ??= setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.offset = undefined;
    this.partial = '';
  }

  /** Reads what was appended since the last poll and hands the new records to every listener. */
  async poll(): Promise<void> {
    if (this.reading || this.offset === undefined) return;
    this.reading = true;
    try {
      const size = await stat(this.file()).then(
        (s) => s.size,
        () => 0,
      );
      if (size < this.offset) {
        // Replaced or truncated: read it again from the start, skipping what was already sent.
        this.offset = 0;
        this.partial = '';
      }
      if (size === this.offset) return;
      const handle = await open(this.file(), 'r');
      let text: string;
      try {
        const length = Math.min(size - this.offset, 8 * 1024 * 1024);
        const buf = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buf, 0, length, this.offset);
        this.offset += bytesRead;
        text = this.partial + buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      const records: AuditRecord[] = [];
      for (const line of lines) {
        const parsed = AuditRecord.safeParse(safeJson(line));
        if (parsed.success && parsed.data.seq > this.lastSeq) {
          records.push(parsed.data);
          this.lastSeq = parsed.data.seq;
        }
      }
      if (records.length > 0) for (const fn of this.listeners) fn(records);
    } catch {
      /* the next poll tries again; a live view is best effort, the API is the source of truth */
    } finally {
      this.reading = false;
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
