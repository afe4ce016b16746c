import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/daemon/app.js';
import { daemonErrors } from '../../src/daemon/errors.js';
import type { DaemonServices } from '../../src/daemon/services/index.js';
import { SandboxStore, type SandboxRecord } from '../../src/daemon/state/sandbox-store.js';
import { AuditLog } from '../../src/audit/index.js';
import { ApiErrorBody, systemClock, type Caller, type CreateSandboxRequest } from '../../src/shared/index.js';

const ALICE = 1001;
const BOB = 1002;

/** The in-process daemon API over a real store of two sandboxes (alice's and bob's); the lifecycle is recorded. */
async function fixture(stateDir: string) {
  const store = new SandboxStore(stateDir);
  const record = (name: string, ownerUid: number): SandboxRecord => ({
    id: `sbx_${name.replace(/-/g, '')}`,
    name,
    path: `/home/${name}`,
    profile: 'default',
    state: 'running',
    image: 'img',
    containerId: `c_${name}`,
    createdAt: new Date().toISOString(),
    ownerUid,
    env: {},
    endpoints: {},
    network: false,
  });
  await store.save(record('alice-box', ALICE));
  await store.save(record('bob-box', BOB));
  const calls: string[] = [];
  const find = async (name: string) => {
    const r = (await store.list()).find((s) => s.name === name);
    if (!r) throw daemonErrors.create('SANDBOX_NOT_FOUND', `no sandbox named "${name}"`, { name });
    return r;
  };
  const report = (r: SandboxRecord) => ({ id: r.id, name: r.name, state: r.state });
  const sandboxes = {
    list: async () => (await store.list()).map(report),
    find,
    get: async (name: string) => report(await find(name)),
    requireRunning: find,
    stop: async (name: string) => (calls.push(`stop ${name}`), report(await find(name))),
    start: async (name: string) => (calls.push(`start ${name}`), report(await find(name))),
    remove: async (name: string) => void calls.push(`rm ${name}`),
    logs: async (name: string) => (calls.push(`logs ${name}`), 'log text'),
    execBuffered: async (name: string, o: { cmd: string[] }) => {
      calls.push(`exec ${name} ${o.cmd.join(' ')}`);
      return { exitCode: 0, stdout: '', stderr: '', truncated: false };
    },
    create: async (request: CreateSandboxRequest, caller: Caller) => {
      calls.push(`create ${request.name ?? ''} as ${caller.uid}`);
      return report(record(request.name ?? 'x', caller.uid));
    },
  };
  const audit = await AuditLog.open({
    path: path.join(stateDir, 'audit', 'audit.jsonl'),
    logger: pino({ level: 'silent' }),
    clock: systemClock,
  });
  const services = {
    version: 'test',
    audit,
    config: {
      stateDir,
      socket: path.join(stateDir, 's'),
      runtime: { mode: 'rootless' },
      sessions: { listener: { enabled: false } },
    },
    logger: pino({ level: 'silent' }),
    httpLogger: pino({ level: 'silent' }) as FastifyBaseLogger,
    startedAt: new Date(),
    runtime: {},
    sandboxes,
    hooks: [],
  } as unknown as DaemonServices;
  return { services, calls };
}

const as = (uid: number) => ({ 'x-test-uid': String(uid) });

function expectContract(res: { statusCode: number; body: string }, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  const parsed = ApiErrorBody.parse(JSON.parse(res.body));
  expect(parsed.error.code).toBe(code);
  expect(parsed.error.hint.length).toBeGreaterThan(10);
}

describe('the daemon API', () => {
  let dir: string;
  let app: FastifyInstance;
  let calls: string[];
  let auditLog: AuditLog;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-app-'));
    const f = await fixture(dir);
    calls = f.calls;
    auditLog = f.services.audit;
    app = await buildApp(f.services, {
      injectedCaller: (raw) => ({ uid: Number(raw.headers['x-test-uid'] ?? 0), gid: 0, pid: 1 }),
    });
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('authorisation: a sandbox is its owner’s and root’s', () => {
    it('lists only the caller’s sandboxes; root sees all', async () => {
      const alice = await app.inject({ url: '/v1/sandboxes', headers: as(ALICE) });
      expect(alice.json().sandboxes.map((s: { name: string }) => s.name)).toEqual(['alice-box']);
      const root = await app.inject({ url: '/v1/sandboxes', headers: as(0) });
      expect(
        root
          .json()
          .sandboxes.map((s: { name: string }) => s.name)
          .sort(),
      ).toEqual(['alice-box', 'bob-box']);
    });

    it.each([
      ['GET', '/v1/sandboxes/bob-box', undefined],
      ['POST', '/v1/sandboxes/bob-box/stop', undefined],
      ['POST', '/v1/sandboxes/bob-box/start', undefined],
      ['DELETE', '/v1/sandboxes/bob-box', undefined],
      ['GET', '/v1/sandboxes/bob-box/logs', undefined],
      ['POST', '/v1/sandboxes/bob-box/exec', { cmd: ['id'] }],
      ['GET', '/v1/sandboxes/bob-box/exec/ws', undefined],
      ['POST', '/v1/sandboxes/bob-box/egress/selftest', undefined],
      ['GET', '/v1/policy?sandbox=bob-box', undefined],
      ['POST', '/v1/policy/decide', { door: 'exec', sandbox: 'bob-box', request: {} }],
      ['GET', '/v1/audit?sandbox=bob-box', undefined],
      ['GET', '/v1/audit/export?sandbox=bob-box', undefined],
    ] as const)('refuses %s %s to another user, touching nothing', async (method, url, payload) => {
      calls.length = 0;
      const res = await app.inject({ method, url, headers: as(ALICE), ...(payload ? { payload } : {}) });
      expectContract(res, 403, 'SANDBOX_FORBIDDEN');
      expect(calls).toEqual([]);
    });

    it('writes each refusal to the audit log under the decision id the caller is shown', async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/sandboxes/bob-box/stop', headers: as(ALICE) });
      expectContract(res, 403, 'SANDBOX_FORBIDDEN');
      const decisionId = res.json().error.details?.decisionId as string;
      expect(decisionId).toMatch(/^dec_/);
      expect(await auditLog.find(decisionId)).toMatchObject({
        kind: 'api.refused',
        sandbox: 'bob-box',
        data: { code: 'SANDBOX_FORBIDDEN', status: 403, method: 'POST', callerUid: ALICE },
      });
      // A caller's own mistake (an unknown sandbox) is answered, not audited as an attempt.
      const before = (await auditLog.tail({ kind: 'api.refused', limit: 1000 })).length;
      const missing = await app.inject({ url: '/v1/sandboxes/nope', headers: as(ALICE) });
      expect(missing.statusCode).toBe(404);
      expect((await auditLog.tail({ kind: 'api.refused', limit: 1000 })).length).toBe(before);
    });

    it('lets the owner and root act', async () => {
      calls.length = 0;
      const own = await app.inject({
        method: 'POST',
        url: '/v1/sandboxes/alice-box/stop',
        headers: as(ALICE),
      });
      expect(own.statusCode).toBe(200);
      const root = await app.inject({ method: 'DELETE', url: '/v1/sandboxes/bob-box', headers: as(0) });
      expect(root.statusCode).toBe(200);
      expect(calls).toEqual(['stop alice-box', 'rm bob-box']);
    });

    it('refuses an audit export that names the sandbox by another sandbox’s id', async () => {
      const res = await app.inject({
        url: '/v1/audit/export?sandbox=alice-box&sandboxId=sbx_bobbox',
        headers: as(ALICE),
      });
      expectContract(res, 403, 'SANDBOX_FORBIDDEN');
    });

    it('keeps daemon-wide changes (secrets, SSH keys, the whole audit log) for root', async () => {
      const put = await app.inject({
        method: 'PUT',
        url: '/v1/secrets/anthropic',
        headers: as(ALICE),
        payload: { value: 'sk-x' },
      });
      expectContract(put, 403, 'API_ROOT_ONLY');
      const key = await app.inject({
        method: 'POST',
        url: '/v1/ssh-keys',
        headers: as(ALICE),
        payload: { publicKey: 'ssh-ed25519 AAAA x' },
      });
      expectContract(key, 403, 'API_ROOT_ONLY');
      expectContract(await app.inject({ url: '/v1/audit', headers: as(ALICE) }), 403, 'API_ROOT_ONLY');
    });

    it('creates a sandbox as the caller', async () => {
      calls.length = 0;
      const res = await app.inject({
        method: 'POST',
        url: '/v1/sandboxes',
        headers: as(ALICE),
        payload: { path: '/home/alice/p', name: 'new-box' },
      });
      expect(res.statusCode).toBe(201);
      expect(calls).toEqual([`create new-box as ${ALICE}`]);
    });

    it('answers an unknown route 404 to everyone, an unknown sandbox 404', async () => {
      expectContract(await app.inject({ url: '/v1/nope', headers: as(ALICE) }), 404, 'API_ROUTE_NOT_FOUND');
      expectContract(
        await app.inject({ method: 'POST', url: '/v1/sandboxes/ghost/stop', headers: as(ALICE) }),
        404,
        'SANDBOX_NOT_FOUND',
      );
    });
  });

  describe('the error contract', () => {
    it('refuses a JSON body of null, an array or a number (not taken as {})', async () => {
      for (const payload of ['null', '[]', '7', '"x"']) {
        const res = await app.inject({
          method: 'POST',
          url: '/v1/sandboxes',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        expectContract(res, 400, 'API_BAD_REQUEST');
      }
      calls.length = 0;
      expect(calls).toEqual([]);
    });

    it('refuses env names with "=", a newline, NUL or nothing, and values with NUL', async () => {
      calls.length = 0;
      for (const env of [{ 'A=B': 'x' }, { 'A\nB': 'x' }, { '': 'x' }, { 'A\0': 'x' }, { A: 'x\0y' }]) {
        const res = await app.inject({
          method: 'POST',
          url: '/v1/sandboxes/alice-box/exec',
          payload: { cmd: ['env'], env },
        });
        expectContract(res, 400, 'API_INVALID_REQUEST');
      }
      expect(calls).toEqual([]);
    });

    it('answers bad JSON, wrong content types and oversized bodies in the contract', async () => {
      const bad = await app.inject({
        method: 'POST',
        url: '/v1/sandboxes',
        headers: { 'content-type': 'application/json' },
        payload: '{"path":',
      });
      expectContract(bad, 400, 'API_BAD_REQUEST');
      const type = await app.inject({
        method: 'POST',
        url: '/v1/sandboxes',
        headers: { 'content-type': 'text/xml' },
        payload: '<x/>',
      });
      expectContract(type, 415, 'API_BAD_REQUEST');
      const big = await app.inject({
        method: 'POST',
        url: '/v1/sandboxes',
        headers: { 'content-type': 'application/json' },
        payload: `{"path":"${'a'.repeat(5 * 1024 * 1024)}"}`,
      });
      expectContract(big, 413, 'API_BAD_REQUEST');
    });

    it('answers bad URLs and over-long names in the contract', async () => {
      expectContract(await app.inject({ url: '/v1/sandboxes/%ff' }), 400, 'API_BAD_URL');
      expectContract(await app.inject({ url: `/v1/sandboxes/${'a'.repeat(150)}` }), 414, 'API_URL_TOO_LONG');
    });

    it('answers a plain GET on the exec WebSocket route with 426 in the contract', async () => {
      expectContract(
        await app.inject({ url: '/v1/sandboxes/alice-box/exec/ws' }),
        426,
        'API_UPGRADE_REQUIRED',
      );
    });

    it('answers policy questions about an unknown sandbox with 404, not a 5xx', async () => {
      expectContract(await app.inject({ url: '/v1/policy?sandbox=nope' }), 404, 'SANDBOX_NOT_FOUND');
      const decide = await app.inject({
        method: 'POST',
        url: '/v1/policy/decide',
        payload: { door: 'exec', sandbox: 'nope', request: {} },
      });
      expectContract(decide, 404, 'SANDBOX_NOT_FOUND');
    });
  });
});

describe('callers on a real socket', () => {
  let dir: string;
  const apps: FastifyInstance[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-peer-'));
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function listen(peer: () => Caller, name: string): Promise<string> {
    const { services } = await fixture(path.join(dir, name));
    const app = await buildApp(services, { peer });
    apps.push(app);
    const socket = path.join(dir, `${name}.sock`);
    await app.listen({ path: socket });
    return socket;
  }

  const get = (socket: string, url: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ socketPath: socket, path: url, headers: { 'x-test-uid': '0' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });

  it('takes the caller from the connection’s peer credentials, not from the request', async () => {
    const socket = await listen(() => ({ uid: ALICE, gid: ALICE, pid: 1 }), 'alice');
    // A header naming root changes nothing on a real connection.
    const list = await get(socket, '/v1/sandboxes');
    expect(JSON.parse(list.body).sandboxes.map((s: { name: string }) => s.name)).toEqual(['alice-box']);
    const other = await get(socket, '/v1/sandboxes/bob-box');
    expect(other.status).toBe(403);
  });

  it('refuses every request when the peer cannot be read (fail closed)', async () => {
    const socket = await listen(() => {
      throw new Error('EBADF');
    }, 'broken');
    const res = await get(socket, '/v1/version');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('API_CALLER_UNKNOWN');
  });
});
