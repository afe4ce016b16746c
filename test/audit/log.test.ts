import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, MASK, verifyFile } from '../../src/audit/index.js';
import { quietLogger as quiet } from '../support/quiet-logger.js';

const clock = { now: () => Date.parse('2026-01-01T00:00:00Z') };

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-audit-'));
  path = join(dir, 'audit.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function seed(n: number): Promise<AuditLog> {
  const log = await AuditLog.open({ path, logger: quiet, clock });
  for (let i = 0; i < n; i++) {
    await log.append({ kind: i % 2 ? 'exec' : 'decision', sandbox: i % 3 ? 'web' : 'api', data: { i } });
  }
  return log;
}

async function lines(): Promise<string[]> {
  return (await readFile(path, 'utf8')).trimEnd().split('\n');
}

describe('audit log', () => {
  it('chains each record to the previous one and verifies a clean log', async () => {
    const log = await seed(5);
    const recs = (await lines()).map((l) => JSON.parse(l) as { seq: number; prev: string; hash: string });
    expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < recs.length; i++) expect(recs[i]!.prev).toBe(recs[i - 1]!.hash);
    expect(await log.verify()).toMatchObject({ ok: true, records: 5 });
    await log.close();
  });

  it('detects an edited record and names its line', async () => {
    await (await seed(5)).close();
    const ls = await lines();
    ls[2] = ls[2]!.replace('"i":2', '"i":7');
    await writeFile(path, ls.join('\n') + '\n');
    const r = await verifyFile(path);
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ line: 3, seq: 3 });
    expect(r.problem!.reason).toMatch(/edited/);
  });

  it('detects an edited record even when the attacker recomputes its own hash', async () => {
    await (await seed(4)).close();
    const ls = await lines();
    const rec = JSON.parse(ls[1]!);
    rec.data.i = 99;
    const { hashRecord, recordLine } = await import('../../src/audit/index.js');
    const { hash: _h, ...body } = rec;
    rec.hash = hashRecord(body);
    ls[1] = recordLine(rec);
    await writeFile(path, ls.join('\n') + '\n');
    const r = await verifyFile(path);
    expect(r.problem).toMatchObject({ line: 3, seq: 3 });
    expect(r.problem!.reason).toMatch(/prev/);
  });

  it('detects a deleted record', async () => {
    await (await seed(5)).close();
    const ls = await lines();
    ls.splice(1, 1);
    await writeFile(path, ls.join('\n') + '\n');
    const r = await verifyFile(path);
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ line: 2, seq: 3 });
    expect(r.problem!.reason).toMatch(/deleted/);
  });

  it('detects reordered records', async () => {
    await (await seed(5)).close();
    const ls = await lines();
    [ls[2], ls[3]] = [ls[3]!, ls[2]!];
    await writeFile(path, ls.join('\n') + '\n');
    const r = await verifyFile(path);
    expect(r.ok).toBe(false);
    expect(r.problem!.line).toBe(3);
  });

  it('detects records cut from the end through the head anchor', async () => {
    await (await seed(5)).close();
    const ls = await lines();
    await writeFile(path, ls.slice(0, 3).join('\n') + '\n');
    const r = await verifyFile(path);
    expect(r.ok).toBe(false);
    expect(r.problem!.reason).toMatch(/cut from the end/);
  });

  it('continues the chain after a reopen', async () => {
    await (await seed(3)).close();
    const log = await AuditLog.open({ path, logger: quiet, clock });
    const r = await log.append({ kind: 'sandbox', data: { event: 'started' } });
    expect(r.seq).toBe(4);
    expect(await log.verify()).toMatchObject({ ok: true, records: 4 });
    await log.close();
  });

  it('keeps concurrent appends ordered and chained (group commit)', async () => {
    const log = await AuditLog.open({ path, logger: quiet, clock });
    const recs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append({ kind: 'exec', data: { i } })),
    );
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await log.verify()).toMatchObject({ ok: true, records: 50 });
    await log.close();
  });

  it('never writes a secret: values under secret keys and known token formats are masked', async () => {
    const log = await AuditLog.open({ path, logger: quiet, clock });
    await log.append({
      kind: 'llm-call',
      data: {
        headers: { Authorization: 'Bearer abcdefghijklmnop', 'x-api-key': 'k-123456' },
        note: 'used sk-ant-0123456789abcdefghij and ghp_0123456789abcdefghijABCD',
      },
    });
    await log.close();
    const text = await readFile(path, 'utf8');
    expect(text).not.toMatch(/abcdefghijklmnop|k-123456|sk-ant-0123|ghp_0123/);
    expect(text).toContain(MASK);
  });

  it('filters tail by sandbox, kind and limit, and exports one bundle per sandbox', async () => {
    const log = await seed(9);
    const tail = await log.tail({ sandbox: 'web', kind: 'exec', limit: 2 });
    expect(tail.map((r) => r.data.i)).toEqual([5, 7]);
    const bundle = await log.export({ sandbox: 'api' });
    expect(bundle.records.map((r) => r.data.i)).toEqual([0, 3, 6]);
    expect(bundle.counts).toEqual({ decision: 2, exec: 1 });
    expect(bundle.verify.ok).toBe(true);
    await log.close();
  });

  it('verifies cleanly while appends keep arriving', async () => {
    const log = await seed(3);
    const writes = Promise.all(
      Array.from({ length: 40 }, (_, i) => log.append({ kind: 'exec', data: { i } })),
    );
    const report = await log.verify();
    await writes;
    expect(report.ok).toBe(true);
    expect(await log.verify()).toMatchObject({ ok: true, records: 43 });
    await log.close();
  });

  it('refuses appends after close', async () => {
    const log = await seed(1);
    await log.close();
    await expect(log.append({ kind: 'exec', data: {} })).rejects.toMatchObject({ code: 'AUDIT_CLOSED' });
  });
});
