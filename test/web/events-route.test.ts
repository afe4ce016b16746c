import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/index.js';
import type { EgressDecision } from '../../src/egress/index.js';
import { eventRoutes } from '../../src/daemon/routes/events.js';
import type { DaemonServices } from '../../src/daemon/services/index.js';
import type { Caller } from '../../src/shared/index.js';
import { systemClock, type Logger } from '../../src/shared/index.js';

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger };

let dir: string;
let audit: AuditLog;
let app: FastifyInstance;
let port: number;
let decisions: EgressDecision[];

/** The route on a bare app whose caller is `uid`, who owns only sandbox sbx_mine ("mine"). */
async function start(uid: number) {
  app = Fastify();
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    request.caller = { uid, gid: uid, pid: 1 };
  });
  app.decorate('visibleSandboxes', async () => [{ id: 'sbx_mine', name: 'mine' }] as never);
  const services = {
    audit,
    egress: { recentDecisions: () => [...decisions] },
    sandboxes: {
      list: async () => [
        { id: 'sbx_mine', name: 'mine' },
        { id: 'sbx_theirs', name: 'theirs' },
      ],
    },
  };
  await app.register(eventRoutes(services as unknown as DaemonServices));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
}

/** Opens the stream and collects `event: audit` records (or `event: egress` decisions) until `count` arrived. */
function collect(
  count: number,
  kind: 'audit' | 'egress' = 'audit',
): {
  records: Promise<{ seq: number; kind: string; sandbox?: string }[]>;
  ready: Promise<void>;
  close: () => void;
} {
  let req!: http.ClientRequest;
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const records = new Promise<{ seq: number; kind: string }[]>((resolve, reject) => {
    req = http.get({ host: '127.0.0.1', port, path: '/v1/events' }, (res) => {
      expect(res.headers['content-type']).toContain('text/event-stream');
      let buf = '';
      const got: { seq: number; kind: string }[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        if (buf.includes('retry:')) onReady();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(event);
          if (new RegExp(`^event: ${kind}$`, 'm').test(event) && data) got.push(JSON.parse(data[1]!));
          if (got.length >= count) resolve(got);
        }
      });
    });
    req.on('error', reject);
  });
  return { records, ready, close: () => req.destroy() };
}

beforeEach(async () => {
  decisions = [decision('dec_old', 'sbx_mine', 'allow')];
  dir = await mkdtemp(path.join(tmpdir(), 'aibox-events-'));
  audit = await AuditLog.open({
    path: path.join(dir, 'audit.jsonl'),
    logger: silentLogger,
    clock: systemClock,
  });
  await audit.append({ kind: 'old', sandbox: 'mine', sandboxId: 'sbx_mine', data: {} });
});

afterEach(async () => {
  await app?.close();
  await audit.close();
  await rm(dir, { recursive: true, force: true });
});

function decision(id: string, sandboxId: string, verdict: 'allow' | 'deny'): EgressDecision {
  return {
    id,
    sandboxId,
    time: Date.now(),
    layer: 'proxy',
    verdict,
    reason: 'R',
    target: `https://${id}/`,
    kind: 'GET',
  };
}

describe('GET /v1/events', () => {
  it("streams new audit records of the caller's own sandboxes only, from now on", async () => {
    await start(1000);
    const stream = collect(3);
    await stream.ready;
    await audit.append({
      kind: 'decision',
      sandbox: 'mine',
      sandboxId: 'sbx_mine',
      data: { outcome: 'deny' },
    });
    await audit.append({ kind: 'decision', sandbox: 'theirs', sandboxId: 'sbx_theirs', data: {} });
    // Same name, another sandbox (a later one that took the name): not ours.
    await audit.append({ kind: 'exec', sandbox: 'mine', sandboxId: 'sbx_old', data: {} });
    await audit.append({ kind: 'decision', sandbox: 'mine', data: { note: 'no id: by name' } });
    await audit.append({ kind: 'daemon', data: {} });
    await audit.append({ kind: 'push.pending', sandbox: 'mine', sandboxId: 'sbx_mine', data: {} });
    const got = await stream.records;
    stream.close();
    expect(got.map((r) => [r.seq, r.kind])).toEqual([
      [2, 'decision'],
      [5, 'decision'],
      [7, 'push.pending'],
    ]);
  });

  it("streams new egress decisions, allowed and refused, of the caller's own sandboxes only", async () => {
    await start(1000);
    const stream = collect(2, 'egress');
    await stream.ready;
    decisions.push(decision('dec_a', 'sbx_theirs', 'allow'), decision('dec_b', 'sbx_mine', 'allow'));
    decisions.push(decision('dec_c', 'sbx_gone', 'deny'), decision('dec_d', 'sbx_mine', 'deny'));
    const got = (await stream.records) as unknown as (EgressDecision & { sandbox?: string })[];
    stream.close();
    expect(got.map((d) => [d.id, d.sandbox, d.verdict])).toEqual([
      ['dec_b', 'mine', 'allow'],
      ['dec_d', 'mine', 'deny'],
    ]);
  });

  it('streams every record to root', async () => {
    await start(0);
    const stream = collect(2);
    await stream.ready;
    await audit.append({ kind: 'decision', sandbox: 'theirs', sandboxId: 'sbx_theirs', data: {} });
    await audit.append({ kind: 'daemon', data: {} });
    const got = await stream.records;
    stream.close();
    expect(got.map((r) => r.kind)).toEqual(['decision', 'daemon']);
  });
});
