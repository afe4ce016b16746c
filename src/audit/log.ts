import { open, readFile, stat, mkdir, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Clock, Logger } from '../shared/index.js';
import { messageOf } from '../shared/index.js';
import { GENESIS_HASH } from './canonical.js';
import { auditErrors } from './errors.js';
import { defaultMasker, maskDeep, type ValueMasker } from './mask.js';
import { AuditEntry, AuditRecord, hashRecord, recordLine } from './record.js';

export interface AuditLogOptions {
  /** The JSON-lines file. A sibling `<path>.head` anchors the chain's tip so a truncated tail is detected too. */
  path: string;
  logger: Logger;
  clock: Clock;
  /** Defensive masker applied to every string in `data`; defaults to `defaultMasker`. */
  masker?: ValueMasker;
}

export interface VerifyProblem {
  /** 1-based line number in the file (0 when the problem is the head anchor). */
  line: number;
  seq?: number;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  records: number;
  lastSeq: number;
  lastHash: string;
  /** The first bad line: everything after it is not trustworthy either. */
  problem?: VerifyProblem;
}

export interface TailQuery {
  sandbox?: string;
  kind?: string;
  id?: string;
  limit?: number;
}

export interface ExportBundle {
  sandbox: string;
  exportedAt: string;
  /** Counts per kind: decision, exec, push, llm-call, … */
  counts: Record<string, number>;
  records: AuditRecord[];
  /** Integrity of the whole log at export time; each record's own `hash` ties it to that chain. */
  verify: VerifyReport;
}

interface Pending {
  line: string;
  record: AuditRecord;
  resolve: (r: AuditRecord) => void;
  reject: (e: unknown) => void;
}

/**
 * The append-only, hash-chained audit log. One instance per daemon owns the file: appends are serialised in
 * memory, written in batches with one fsync per batch (group commit) and resolve only once durable, so a caller
 * that awaits `append` knows its record survives a crash. After a write error the log refuses every later append
 * (fail closed): aiboxd must not act without a record of it.
 */
export class AuditLog {
  private seq: number;
  private prev: string;
  private durableSeq: number;
  private durableHash: string;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private failed: unknown;
  private closed = false;
  private readonly masker: ValueMasker;

  private constructor(
    private readonly opts: AuditLogOptions,
    private readonly fh: FileHandle,
    private readonly head: FileHandle,
    tip: { seq: number; hash: string },
  ) {
    this.seq = tip.seq;
    this.prev = tip.hash;
    this.durableSeq = tip.seq;
    this.durableHash = tip.hash;
    this.masker = opts.masker ?? defaultMasker;
  }

  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    await mkdir(dirname(opts.path), { recursive: true, mode: 0o700 });
    let fh: FileHandle | undefined;
    let head: FileHandle | undefined;
    try {
      fh = await open(opts.path, 'a+', 0o600);
      head = await open(`${opts.path}.head`, 'a+', 0o600);
      const tip = await readTip(fh, opts.path);
      return new AuditLog(opts, fh, head, tip);
    } catch (err) {
      await fh?.close();
      await head?.close();
      if (auditErrors.is(err, 'AUDIT_READ_FAILED')) throw err;
      throw auditErrors.create(
        'AUDIT_WRITE_FAILED',
        `cannot open the audit log ${opts.path}: ${messageOf(err)}`,
      );
    }
  }

  get path(): string {
    return this.opts.path;
  }

  /** Appends one record; resolves with it (seq, hash, …) once it is on disk. */
  append(entry: AuditEntry): Promise<AuditRecord> {
    if (this.closed) return Promise.reject(auditErrors.create('AUDIT_CLOSED', 'the audit log is closed'));
    if (this.failed !== undefined) {
      return Promise.reject(
        auditErrors.create('AUDIT_WRITE_FAILED', `the audit log failed earlier: ${messageOf(this.failed)}`),
      );
    }
    const parsed = AuditEntry.safeParse(entry);
    if (!parsed.success) {
      return Promise.reject(
        auditErrors.create('AUDIT_BAD_RECORD', `bad audit entry: ${parsed.error.message}`),
      );
    }
    const e = parsed.data;
    const body = {
      seq: this.seq + 1,
      ts: new Date(this.opts.clock.now()).toISOString(),
      kind: e.kind,
      ...(e.id !== undefined ? { id: e.id } : {}),
      ...(e.sandbox !== undefined ? { sandbox: e.sandbox } : {}),
      ...(e.sandboxId !== undefined ? { sandboxId: e.sandboxId } : {}),
      // Round-trip through JSON so the stored bytes are exactly what verify() will re-read.
      data: JSON.parse(JSON.stringify(maskDeep(e.data, this.masker) ?? {})) as Record<string, unknown>,
      prev: this.prev,
    };
    const record: AuditRecord = { ...body, hash: hashRecord(body) };
    this.seq = record.seq;
    this.prev = record.hash;
    return new Promise<AuditRecord>((resolve, reject) => {
      this.queue.push({ line: `${recordLine(record)}\n`, record, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Yield once so appends issued in the same tick share one write and one fsync.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        if (this.failed !== undefined) throw new Error(messageOf(this.failed));
        await this.fh.write(batch.map((p) => p.line).join(''));
        await this.fh.datasync();
        const last = batch[batch.length - 1]!.record;
        const anchor = Buffer.from(`${JSON.stringify({ seq: last.seq, hash: last.hash })}\n`);
        await this.head.truncate(0);
        await this.head.write(anchor, 0, anchor.length, 0);
        this.durableSeq = last.seq;
        this.durableHash = last.hash;
        for (const p of batch) p.resolve(p.record);
      } catch (err) {
        this.failed ??= err;
        this.opts.logger.error({ err: messageOf(err), path: this.opts.path }, 'audit log write failed');
        const error = auditErrors.create(
          'AUDIT_WRITE_FAILED',
          `cannot write the audit log: ${messageOf(err)}`,
        );
        for (const p of batch) p.reject(error);
      }
    }
    this.flushing = undefined;
  }

  /** Waits for pending appends, then closes the file. Later appends fail with AUDIT_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.fh.close();
    await this.head.sync().catch(() => undefined);
    await this.head.close();
  }

  /** Re-reads the whole file and checks every record's hash, its link to the one before, and the head anchor. */
  async verify(): Promise<VerifyReport> {
    await this.flushing;
    // The tip we know is durable; records appended while we read are checked next time.
    return verifyFile(this.opts.path, { seq: this.durableSeq, hash: this.durableHash });
  }

  /** The last `limit` records (default 50) matching the filters, oldest first. */
  async tail(query: TailQuery = {}): Promise<AuditRecord[]> {
    await this.flushing;
    const limit = query.limit ?? 50;
    const out: AuditRecord[] = [];
    for await (const r of readRecords(this.opts.path)) {
      if (query.sandbox !== undefined && r.sandbox !== query.sandbox) continue;
      if (query.kind !== undefined && r.kind !== query.kind) continue;
      if (query.id !== undefined && r.id !== query.id) continue;
      out.push(r);
      if (out.length > limit) out.shift();
    }
    return out;
  }

  /** The newest record with this id (e.g. a decision `dec_…`), if any. */
  async find(id: string): Promise<AuditRecord | undefined> {
    const found = await this.tail({ id, limit: 1 });
    return found[0];
  }

  /** Everything recorded for one sandbox session, with the log's integrity at export time. */
  async export(query: { sandbox: string; sandboxId?: string }): Promise<ExportBundle> {
    await this.flushing;
    const records: AuditRecord[] = [];
    const counts: Record<string, number> = {};
    for await (const r of readRecords(this.opts.path)) {
      if (r.sandbox !== query.sandbox) continue;
      if (query.sandboxId !== undefined && r.sandboxId !== query.sandboxId) continue;
      records.push(r);
      counts[r.kind] = (counts[r.kind] ?? 0) + 1;
    }
    return {
      sandbox: query.sandbox,
      exportedAt: new Date(this.opts.clock.now()).toISOString(),
      counts,
      records,
      verify: await verifyFile(this.opts.path),
    };
  }
}

/** Reads the tip (last seq and hash) from the end of the file without reading all of it. */
async function readTip(fh: FileHandle, path: string): Promise<{ seq: number; hash: string }> {
  const { size } = await fh.stat();
  if (size === 0) return { seq: 0, hash: GENESIS_HASH };
  let chunk = 64 * 1024;
  for (;;) {
    const start = Math.max(0, size - chunk);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const text = buf.toString('utf8');
    if (!text.endsWith('\n')) {
      throw auditErrors.create(
        'AUDIT_READ_FAILED',
        `the audit log ${path} ends with a torn record (a crash during a write?)`,
        { path },
      );
    }
    const lines = text.slice(0, -1).split('\n');
    if (lines.length >= 2 || start === 0) {
      const last = AuditRecord.safeParse(safeJson(lines[lines.length - 1] ?? ''));
      if (!last.success) {
        throw auditErrors.create('AUDIT_READ_FAILED', `the last record of ${path} does not parse`, { path });
      }
      return { seq: last.data.seq, hash: last.data.hash };
    }
    chunk *= 4;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function* readLines(path: string): AsyncGenerator<string> {
  try {
    await stat(path);
  } catch {
    return;
  }
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

async function* readRecords(path: string): AsyncGenerator<AuditRecord> {
  for await (const line of readLines(path)) {
    const r = AuditRecord.safeParse(safeJson(line));
    if (r.success) yield r.data;
  }
}

/** Verifies a log file. Exported for offline tools; the daemon goes through `AuditLog.verify`. */
export async function verifyFile(path: string, tip?: { seq: number; hash: string }): Promise<VerifyReport> {
  let lineNo = 0;
  let prev = GENESIS_HASH;
  let seq = 0;
  const bad = (reason: string, s?: number): VerifyReport => ({
    ok: false,
    records: seq,
    lastSeq: seq,
    lastHash: prev,
    problem: { line: lineNo, ...(s !== undefined ? { seq: s } : {}), reason },
  });
  for await (const line of readLines(path)) {
    if (tip && seq >= tip.seq) break;
    lineNo++;
    const json = safeJson(line);
    const parsed = AuditRecord.safeParse(json);
    if (!parsed.success) return bad('not a valid audit record (edited or torn)');
    const r = parsed.data;
    if (recordLine(r) !== line) return bad('record bytes are not canonical (the line was edited)', r.seq);
    const { hash, ...body } = r;
    if (hashRecord(body) !== hash)
      return bad('hash does not match the record content (the record was edited)', r.seq);
    if (r.prev !== prev) {
      return bad(
        r.seq === seq + 1
          ? 'prev does not match the previous record (a record was edited or replaced)'
          : `chain broken: expected seq ${seq + 1}, found ${r.seq} (a record was deleted or moved)`,
        r.seq,
      );
    }
    if (r.seq !== seq + 1) return bad(`expected seq ${seq + 1}, found ${r.seq}`, r.seq);
    prev = hash;
    seq = r.seq;
  }
  const anchor = tip ?? (await readHead(`${path}.head`));
  if (anchor && anchor.seq > seq) {
    lineNo = 0;
    return bad(
      `the log ends at seq ${seq} but its head anchor says ${anchor.seq}: records were cut from the end`,
    );
  }
  if (anchor && anchor.seq === seq && anchor.hash !== prev) {
    lineNo = 0;
    return bad(`the last record's hash differs from the head anchor (the tail was rewritten)`, seq);
  }
  return { ok: true, records: seq, lastSeq: seq, lastHash: prev };
}

async function readHead(path: string): Promise<{ seq: number; hash: string } | undefined> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as { seq?: unknown; hash?: unknown };
    if (typeof v.seq === 'number' && typeof v.hash === 'string') return { seq: v.seq, hash: v.hash };
  } catch {
    // no anchor yet (empty log) or unreadable: the chain check alone applies
  }
  return undefined;
}
