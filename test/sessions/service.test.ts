import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SessionService,
  SessionsConfig,
  createSessionMetrics,
  type SessionActor,
  type SessionBackend,
} from '../../src/sessions/index.js';
import { DAEMON_CALLER } from '../../src/shared/index.js';
import { codeOfRejection, codeOfThrow, scratch } from './helpers.js';

class FakeBackend implements SessionBackend {
  made: string[] = [];
  removed: string[] = [];
  execs: { name: string; cmd: string[]; timeoutMs: number }[] = [];
  constructor(private readonly base: string) {}
  async createEphemeral(request: { profile: string }) {
    const id = `sbx_${this.made.length}`;
    await mkdir(path.join(this.base, id), { recursive: true });
    this.made.push(id);
    return { id, name: `${request.profile}-${id}`, warm: this.made.length === 1 };
  }
  async remove(name: string) {
    this.removed.push(name);
  }
  async execBuffered(name: string, o: { cmd: string[]; timeoutMs: number }) {
    this.execs.push({ name, cmd: o.cmd, timeoutMs: o.timeoutMs });
    const timedOut = o.cmd[0] === 'sleep';
    return { exitCode: timedOut ? 137 : 0, stdout: o.cmd.join(' '), stderr: '', truncated: false, timedOut };
  }
  async authorizeExec(_name: string, argv: string[]) {
    if (argv[0] === 'forbidden') throw Object.assign(new Error('denied'), { code: 'X' });
  }
  workspace(id: string) {
    return { root: path.join(this.base, id), owner: { uid: 0, gid: 0 } };
  }
}

const alice: SessionActor = { owner: 'tok_alice', admin: false, caller: DAEMON_CALLER };
const bob: SessionActor = { owner: 'tok_bob', admin: false, caller: DAEMON_CALLER };
const admin: SessionActor = { owner: 'tok_admin', admin: true, caller: DAEMON_CALLER };

describe('SessionService', () => {
  let s: Awaited<ReturnType<typeof scratch>>;
  let now: number;
  let backend: FakeBackend;
  const make = () =>
    new SessionService({
      backend,
      config: SessionsConfig.parse({
        maxPerToken: 2,
        maxTotal: 3,
        defaultIdleSeconds: 60,
        defaultTtlSeconds: 600,
      }),
      stateDir: path.join(s.base, 'state'),
      logger: pino({ level: 'silent' }),
      metrics: createSessionMetrics(() => 2),
      now: () => now,
    });
  beforeEach(async () => {
    s = await scratch();
    now = 1_000_000;
    backend = new FakeBackend(s.ws);
  });
  afterEach(async () => s.done());

  it('creates a session with its files, and only its owner (or an admin) sees it', async () => {
    const svc = make();
    const report = await svc.create(
      { files: [{ path: 'in/a.txt', content: 'aGk=', encoding: 'base64' }] },
      alice,
    );
    expect(report).toMatchObject({ owner: 'tok_alice', profile: 'session', warm: true, state: 'running' });
    expect(report.id).toMatch(/^ses_[0-9a-f]{16}$/);
    expect(await readFile(path.join(s.ws, 'sbx_0', 'in', 'a.txt'), 'utf8')).toBe('hi');
    expect(svc.list(alice).map((r) => r.id)).toEqual([report.id]);
    expect(svc.list(bob)).toEqual([]);
    expect(svc.list(admin)).toHaveLength(1);
    expect(codeOfThrow(() => svc.get(report.id, bob))).toBe('SESSION_NOT_FOUND');
    expect(await codeOfRejection(svc.remove(report.id, bob))).toBe('SESSION_NOT_FOUND');
    await svc.remove(report.id, admin);
    expect(backend.removed).toEqual(['session-sbx_0']);
    expect(codeOfThrow(() => svc.get(report.id, alice))).toBe('SESSION_NOT_FOUND');
    await svc.close();
  });

  it('refuses a create over quota and removes a half-made session whose files fail', async () => {
    const svc = make();
    await svc.create({}, alice);
    await svc.create({}, alice);
    expect(await codeOfRejection(svc.create({}, alice))).toBe('SESSION_QUOTA');
    expect(await codeOfRejection(svc.create({ files: [{ path: '../x', content: '' }] }, bob))).toBe(
      'SESSION_PATH_INVALID',
    );
    expect(backend.removed).toEqual(['session-sbx_2']);
    expect(svc.list(admin)).toHaveLength(2);
    await svc.create({}, bob); // the failed one gave its slot back
    await svc.close();
  });

  it('runs exec with its timeout, answering 137 and timedOut like every exec route when the timeout killed it', async () => {
    const svc = make();
    const { id } = await svc.create({}, alice);
    const ok = await svc.exec(id, { cmd: ['echo', 'x'], timeoutSeconds: 2 }, alice);
    expect(ok).toMatchObject({ exitCode: 0, stdout: 'echo x', timedOut: false });
    const slow = await svc.exec(id, { cmd: ['sleep', '9'], timeoutSeconds: 0.5 }, alice);
    expect(slow).toMatchObject({ exitCode: 137, timedOut: true });
    expect(backend.execs.map((e) => e.timeoutMs)).toEqual([2000, 500]);
    await expect(svc.exec(id, { cmd: ['forbidden'] }, alice)).rejects.toThrow('denied');
    expect(await codeOfRejection(svc.exec(id, { cmd: ['x'] }, bob))).toBe('SESSION_NOT_FOUND');
    const metrics = await createSessionMetrics().registry.metrics();
    expect(metrics).toContain('aibox_session_exec_seconds');
    await svc.close();
  });

  it('expires idle and absolute TTLs, and a restarted service still expires what it left', async () => {
    const first = make();
    const idle = await first.create({ idleTtlSeconds: 30 }, alice);
    const busy = await first.create({ ttlSeconds: 100, idleTtlSeconds: 30 }, bob);
    now += 20_000;
    first.touch(busy.id);
    now += 15_000;
    expect(await first.reap()).toEqual([{ id: idle.id, reason: 'idle' }]);
    await first.close();
    const second = make();
    await second.start();
    expect(second.list(admin).map((r) => r.id)).toEqual([busy.id]);
    now += 70_000;
    second.touch(busy.id);
    now += 10_000;
    expect(await second.reap()).toEqual([{ id: busy.id, reason: 'absolute' }]);
    expect(second.list(admin)).toEqual([]);
    expect(backend.removed).toEqual([`session-sbx_0`, `session-sbx_1`]);
    await second.close();
    const third = make();
    await third.start();
    expect(third.list(admin)).toEqual([]);
    await third.close();
    await rm(path.join(s.base, 'state'), { recursive: true, force: true });
  });
});
