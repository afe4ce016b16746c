/**
 * A hostile local client against a real aiboxd socket (no sandbox needed): a few hundred malformed, oversized,
 * stalled and misdirected requests, WebSocket upgrades on every route, and a flood of refused upgrades. Asserts
 * 0 answers with a 5xx, 0 answers outside the error contract `{"error":{"code","message","hint"}}`, a flat count of
 * the daemon's open files, and that SIGTERM afterwards exits within its bound even with connections left open.
 */
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody } from '../../src/shared/index.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'reliability/api-fuzz');

interface Answer {
  status: number;
  body: string;
}

interface Case {
  label: string;
  /** The request as written to the socket, in one or more writes. */
  chunks: (string | Buffer)[];
  /** The client gives up after this long without an answer (slowloris-style cases). */
  giveUpMs?: number;
}

/** Writes raw bytes to the socket and reads one HTTP answer (or none, if the connection ends without one). */
function send(socket: string, c: Case, timeoutMs = 10_000): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    const parts: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(parse(Buffer.concat(parts)));
    };
    const timer = setTimeout(finish, c.giveUpMs ?? timeoutMs);
    conn.on('data', (d: Buffer) => {
      parts.push(d);
      const a = parse(Buffer.concat(parts));
      if (a && a.complete) finish();
    });
    conn.on('close', finish);
    conn.on('error', finish);
    conn.on('connect', () => {
      for (const chunk of c.chunks) conn.write(chunk);
    });
  });
}

function parse(buf: Buffer): (Answer & { complete: boolean }) | undefined {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? -1);
  const body = buf.subarray(end + 4).toString('utf8');
  return { status, body, complete: length >= 0 && Buffer.byteLength(body) >= length };
}

const WS_HEADERS =
  'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

function request(method: string, path: string, extra = '', body?: string): string {
  const len = body === undefined ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return `${method} ${path} HTTP/1.1\r\nHost: aiboxd\r\nConnection: close\r\n${extra}${len}\r\n${body ?? ''}`;
}

const json = 'Content-Type: application/json\r\n';

/** Every route of the API, with a sandbox/push/task/decision that does not exist. */
const ROUTES: [string, string][] = [
  ['GET', '/v1/version'],
  ['GET', '/v1/status'],
  ['GET', '/v1/images/base'],
  ['GET', '/v1/sandboxes'],
  ['POST', '/v1/sandboxes'],
  ['GET', '/v1/sandboxes/nope'],
  ['POST', '/v1/sandboxes/nope/stop'],
  ['POST', '/v1/sandboxes/nope/start'],
  ['DELETE', '/v1/sandboxes/nope'],
  ['GET', '/v1/sandboxes/nope/logs'],
  ['POST', '/v1/sandboxes/nope/exec'],
  ['GET', '/v1/sandboxes/nope/exec/ws'],
  ['POST', '/v1/sandboxes/nope/egress/selftest'],
  ['GET', '/v1/egress/decisions/dec_0000'],
  ['GET', '/v1/secrets'],
  ['PUT', '/v1/secrets/nope'],
  ['DELETE', '/v1/secrets/nope'],
  ['GET', '/v1/policy'],
  ['GET', '/v1/policy?sandbox=nope'],
  ['GET', '/v1/policy/decisions/dec_0000'],
  ['POST', '/v1/policy/decide'],
  ['GET', '/v1/audit?sandbox=nope'],
  ['GET', '/v1/audit/verify'],
  ['GET', '/v1/audit/export?sandbox=nope'],
  ['GET', '/v1/pushes'],
  ['GET', '/v1/pushes/push_000000'],
  ['POST', '/v1/pushes/push_000000/show'],
  ['POST', '/v1/pushes/push_000000/approve'],
  ['POST', '/v1/pushes/push_000000/reject'],
  ['GET', '/v1/tasks'],
  ['POST', '/v1/tasks'],
  ['GET', '/v1/tasks/nope'],
  ['POST', '/v1/tasks/nope/done'],
  ['DELETE', '/v1/tasks/nope'],
  ['GET', '/v1/ssh/gateway'],
  ['GET', '/v1/ssh-keys'],
  ['POST', '/v1/ssh-keys'],
  ['DELETE', '/v1/ssh-keys'],
];

/** Bodies no route accepts (none of them may start anything). */
const BAD_BODIES = [
  'null',
  '[]',
  '7',
  '"x"',
  'true',
  '{',
  '{"path":',
  '{"cmd":[]}',
  '{"cmd":["id"],"env":{"A=B":"x"}}',
  '{"cmd":["id"],"env":{"A\\nB":"x"}}',
  '{"cmd":["id"],"env":{"":"x"}}',
  '{"path":"relative","name":"UPPER CASE"}',
  '{"__proto__":{"x":1}}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `{"a":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`,
  '\u0000\u0001\u0002',
  '{"door":"nope","request":{}}',
  '{"force":"yes"}',
];

function corpus(): Case[] {
  const cases: Case[] = [];
  const add = (label: string, ...chunks: (string | Buffer)[]) => cases.push({ label, chunks });
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
  // Every route, every method (wrong ones included), no body.
  for (const [, path] of ROUTES) for (const m of methods) add(`${m} ${path}`, request(m, path));
  // A WebSocket upgrade on every route, and on the exec route with hostile names.
  for (const [, path] of ROUTES) add(`upgrade ${path}`, request('GET', path, WS_HEADERS));
  for (const name of ['a'.repeat(101), 'a'.repeat(1000), '%ff', '%', '..%2f..', 'UPPER', '%00', 'a%20b'])
    add(
      `upgrade exec/ws name ${name.slice(0, 20)}`,
      request('GET', `/v1/sandboxes/${name}/exec/ws`, WS_HEADERS),
    );
  for (const hdrs of [
    'Connection: Upgrade\r\nUpgrade: websocket\r\n',
    'Connection: Upgrade\r\nUpgrade: h2c\r\n',
    'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: x\r\n',
  ])
    add('malformed upgrade on exec/ws', request('GET', '/v1/sandboxes/nope/exec/ws', hdrs));
  add('upgrade by POST', request('POST', '/v1/sandboxes/nope/exec/ws', WS_HEADERS));
  // Bad bodies on every route that takes one.
  for (const [m, path] of ROUTES.filter(([m]) => m === 'POST' || m === 'PUT'))
    for (const body of BAD_BODIES)
      add(`${m} ${path} body ${body.slice(0, 16)}`, request(m, path, json, body));
  // A 5 MiB body announced by Content-Length, of which only the first 64 KiB is sent: the daemon must refuse it from
  // the header (413) without reading it. Writing all of it would race the daemon's close (EPIPE on the client drops
  // the answer it had not read yet), which says nothing about the daemon.
  add(
    'oversized body',
    `POST /v1/sandboxes HTTP/1.1\r\nHost: aiboxd\r\nConnection: close\r\n${json}Content-Length: ${5 * 1024 * 1024}\r\n\r\n${'a'.repeat(64 * 1024)}`,
  );
  add('wrong content type', request('POST', '/v1/sandboxes', 'Content-Type: text/xml\r\n', '<x/>'));
  add('no content type', request('POST', '/v1/sandboxes', '', '{"path":"/tmp"}'));
  add('bad content length', request('POST', '/v1/sandboxes', `${json}Content-Length: abc\r\n`));
  add(
    'two content lengths',
    request('POST', '/v1/sandboxes', `${json}Content-Length: 1\r\nContent-Length: 2\r\n`, '{}'),
  );
  add(
    'chunked garbage',
    `POST /v1/sandboxes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${json}Transfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n`,
  );
  add(
    'chunked and content length',
    `POST /v1/sandboxes HTTP/1.1\r\nHost: a\r\n${json}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
  );
  // Bad URLs and query strings.
  for (const path of [
    '/v1/sandboxes/%ff',
    '/v1/sandboxes/%',
    '/v1/sandboxes/%zz/logs',
    '/v1/sandboxes/%00',
    '/v1/sandboxes/..%2f..%2fetc%2fpasswd',
    '//v1//version',
    '/v1/version/',
    '/v1/version?x=%ff',
    '/v1/policy?sandbox=%ff',
    '/v1/policy?sandbox=nope&sandbox=other',
    '/v1/audit?limit=-1',
    '/v1/audit?limit=abc&sandbox=nope',
    '/v1/pushes?state=nope',
    '/v1/pushes?unknown=1',
    `/v1/sandboxes/${'a'.repeat(101)}`,
    `/v1/sandboxes/${'a'.repeat(1000)}/stop`,
    `/v1/version?${'q'.repeat(8000)}`,
    `/${'x/'.repeat(3000)}`,
    '/v1/sandboxes/ünïcödé',
    '/v1/sandboxes/a b',
    '*',
    'http://aiboxd/v1/version',
    '/v1/sandboxes/nope#frag',
  ])
    add(`url ${path.slice(0, 30)}`, request('GET', path));
  // Headers.
  add('huge header', request('GET', '/v1/version', `X-Big: ${'a'.repeat(20_000)}\r\n`));
  add('many headers', request('GET', '/v1/version', 'X-H: v\r\n'.repeat(3000)));
  add('bad header name', request('GET', '/v1/version', 'Bad Header: v\r\n'));
  add('header without colon', request('GET', '/v1/version', 'NoColon\r\n'));
  add('over-long request line', `GET /v1/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
  // Not HTTP/1.1 at all.
  add('garbage', 'hello there\r\n\r\n');
  add('binary', Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]));
  add('http/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  add('bad version', 'GET /v1/version HTTP/9.9\r\nHost: a\r\n\r\n');
  add('http/1.0', 'GET /v1/version HTTP/1.0\r\n\r\n');
  add('lowercase method', 'get /v1/version HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  add('unknown method', 'BREW /v1/version HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  add('CONNECT', 'CONNECT localhost:22 HTTP/1.1\r\nHost: localhost:22\r\n\r\n');
  // Slowloris-ish: partial requests the client abandons quickly.
  for (let i = 0; i < 10; i++)
    cases.push({
      label: `partial ${i}`,
      chunks: [`POST /v1/sandboxes HTTP/1.1\r\nHost: a\r\n${json}Content-Length: 100\r\n\r\n{"pa`],
      giveUpMs: 200,
    });
  return cases;
}

function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function settle(pid: number, atMost: number, ms = 5_000): Promise<number> {
  const deadline = Date.now() + ms;
  let n = openFiles(pid);
  while (n > atMost && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    n = openFiles(pid);
  }
  return n;
}

async function inBatches<T, R>(items: T[], size: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

describe.skipIf(!run)('the daemon API under a hostile local client', () => {
  let daemon: TestDaemon;
  let pid: number;

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'api-fuzz' });
    pid = (await daemon.api<{ pid: number }>('GET', '/v1/status')).body.pid;
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
  }, 60_000);

  it('answers a few hundred hostile requests with 0 5xx and 0 bodies outside the contract', async () => {
    const cases = corpus();
    expect(cases.length).toBeGreaterThan(300);
    const before = openFiles(pid);
    const answers = await inBatches(cases, 16, async (c) => ({ c, a: await send(daemon.socket, c) }));
    const problems: string[] = [];
    for (const { c, a } of answers) {
      if (c.giveUpMs !== undefined) continue; // the client hung up first: nothing to judge
      if (!a) {
        problems.push(`${c.label}: no answer`);
        continue;
      }
      if (a.status >= 500 || a.status < 100) problems.push(`${c.label}: status ${a.status}`);
      if (a.status >= 400 && !c.label.startsWith('HEAD ')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(a.body);
        } catch {
          parsed = undefined;
        }
        if (!ApiErrorBody.safeParse(parsed).success)
          problems.push(`${c.label}: ${a.status} off-contract body ${JSON.stringify(a.body.slice(0, 120))}`);
      }
    }
    expect(problems).toEqual([]);
    // Every connection of the corpus is gone from the daemon once the clients are.
    expect(await settle(pid, before + 2)).toBeLessThanOrEqual(before + 2);
  }, 120_000);

  it('times out a stalled request with 408 in the contract and closes it', async () => {
    const started = Date.now();
    const a = await send(
      daemon.socket,
      { label: 'stall', chunks: ['GET /v1/version HTTP/1.1\r\nHost: a\r\n'] },
      20_000,
    );
    expect(a?.status).toBe(408);
    expect(ApiErrorBody.parse(JSON.parse(a?.body ?? '')).error.code).toBe('API_REQUEST_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it('keeps a flat open-file count through 1,000 refused WebSocket upgrades', async () => {
    const before = openFiles(pid);
    const hostile = [
      `/v1/sandboxes/${'a'.repeat(150)}/exec/ws`,
      '/v1/sandboxes/%ff/exec/ws',
      '/v1/version',
      '/v1/sandboxes/nope/exec/ws',
    ];
    const cases = Array.from({ length: 1000 }, (_, i) => ({
      label: `flood ${i}`,
      chunks: [request('GET', hostile[i % hostile.length]!, WS_HEADERS)],
    }));
    const answers = await inBatches(cases, 50, (c) => send(daemon.socket, c));
    const statuses = new Map<number, number>();
    for (const a of answers) statuses.set(a?.status ?? 0, (statuses.get(a?.status ?? 0) ?? 0) + 1);
    expect([...statuses.keys()].sort()).toEqual([400, 404, 414]);
    const after = await settle(pid, before + 2);
    expect(after, `open files ${before} -> ${after}`).toBeLessThanOrEqual(before + 2);
  }, 120_000);

  it('exits on SIGTERM within its bound with idle, stalled and half-sent connections still open', async () => {
    const held: net.Socket[] = [];
    const hold = (bytes: string) =>
      new Promise<void>((resolve) => {
        const s = net.connect(daemon.socket, () => {
          s.write(bytes);
          resolve();
        });
        s.on('error', () => undefined);
        held.push(s);
      });
    for (let i = 0; i < 10; i++) await hold('GET /v1/version HTTP/1.1\r\nHost: a\r\n'); // stalled headers
    for (let i = 0; i < 5; i++)
      await hold(
        request('POST', '/v1/sandboxes', `${json}Content-Length: 1000\r\n`, '').replace(
          'Connection: close',
          'Connection: keep-alive',
        ),
      );
    for (let i = 0; i < 5; i++) await hold('GET /v1/version HTTP/1.1\r\nHost: a\r\n\r\n'); // keep-alive, idle after
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    process.kill(pid, 'SIGTERM');
    while (Date.now() - started < 30_000) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const took = Date.now() - started;
    for (const s of held) s.destroy();
    // The bound: 3 s for in-flight requests, 3 s after closing the rest, 15 s for the Podman service.
    expect(took, `exited after ${took} ms`).toBeLessThan(22_000);
    expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);
});
