/**
 * The daemon's socket as a second local user would attack it. Two throwaway unix users in a throwaway socket group:
 * the owner creates a real gVisor sandbox on its own project; the attacker (same group, so it can connect) tries
 * to exec into it (HTTP and WebSocket), stop it, remove it, read its logs and audit, and approve its push. Every
 * attempt must be refused with 403 SANDBOX_FORBIDDEN (or API_ROOT_ONLY) and leave the sandbox untouched, while the
 * owner and root still can. Also: an env secret given to `aibox exec -e` reaches neither a URL nor the daemon log.
 * Users are made with useradd and removed afterwards; needs root (CI runs as root).
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'security-socket integration');

interface User {
  name: string;
  uid: number;
  gid: number;
}

interface Answer {
  status: number;
  body: any;
  raw: string;
}

/** A request over the daemon socket made by `user`'s own process (setpriv: its uid, gid and groups). */
const CLIENT = `
const net = require('node:net');
const [socket, method, url, body, upgrade] = process.argv.slice(2);
const c = net.connect(socket);
let out = '';
c.on('data', (d) => (out += d));
c.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
c.on('close', () => { console.log(JSON.stringify({ raw: out })); });
const payload = body ? Buffer.from(body) : undefined;
const head = [method + ' ' + url + ' HTTP/1.1', 'Host: aiboxd', 'Connection: close'];
if (payload) head.push('Content-Type: application/json', 'Content-Length: ' + payload.length);
if (upgrade) head.push('Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
c.write(head.join('\\r\\n') + '\\r\\n\\r\\n');
if (payload) c.write(payload);
setTimeout(() => { console.log(JSON.stringify({ raw: out, timeout: true })); process.exit(0); }, 60000).unref();
`;

describe.runIf(run)('a second local user on the daemon socket', () => {
  const tag = randomBytes(3).toString('hex');
  const group = `aibt${tag}`;
  let owner: User;
  let attacker: User;
  let outsider: User;
  let daemon: TestDaemon;
  let project: string;
  let clientFile: string;
  const sandbox = `owned-${tag}`;
  let sandboxId: string;

  async function addUser(name: string, groups: string[]): Promise<User> {
    await execa('useradd', [
      '-M',
      '-N',
      '-s',
      '/usr/sbin/nologin',
      ...(groups.length ? ['-G', groups.join(',')] : []),
      name,
    ]);
    const uid = Number((await execa('id', ['-u', name])).stdout);
    const gid = Number((await execa('id', ['-g', name])).stdout);
    return { name, uid, gid };
  }

  async function as(
    user: User,
    method: string,
    url: string,
    body?: unknown,
    upgrade = false,
  ): Promise<Answer> {
    const r = await execa(
      'setpriv',
      [
        '--reuid',
        String(user.uid),
        '--regid',
        String(user.gid),
        '--init-groups',
        process.execPath,
        clientFile,
        daemon.socket,
        method,
        url,
        body === undefined ? '' : JSON.stringify(body),
        upgrade ? '1' : '',
      ],
      { reject: false },
    );
    const out = JSON.parse(r.stdout || '{}') as { raw?: string; error?: string };
    if (out.error) return { status: 0, body: out.error, raw: out.error };
    if (!out.raw) return { status: 0, body: undefined, raw: `no answer: ${r.stderr}` };
    const raw = out.raw ?? '';
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
    const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* plain text (logs) */
    }
    return { status, body: parsed, raw };
  }

  const forbidden = (a: Answer, code = 'SANDBOX_FORBIDDEN') => {
    expect(a.status, a.raw).toBe(403);
    expect(a.body.error.code).toBe(code);
    expect(a.body.error.hint.length).toBeGreaterThan(10);
  };

  const stateOf = async () =>
    (await daemon.api<{ state: string }>('GET', `/v1/sandboxes/${sandbox}`)).body.state;

  beforeAll(async () => {
    await execa('groupadd', [group]);
    owner = await addUser(`aibt${tag}o`, [group]);
    attacker = await addUser(`aibt${tag}a`, [group]);
    outsider = await addUser(`aibt${tag}x`, []);
    daemon = await startTestDaemon({ name: 'security-socket', config: { socketGroup: group } });
    clientFile = path.join(daemon.dir, 'client.cjs');
    await writeFile(clientFile, CLIENT);
    await chmod(clientFile, 0o644);
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('security-socket');
    await execa('chown', ['-R', `${owner.uid}:${owner.gid}`, project]);
    const created = await as(owner, 'POST', '/v1/sandboxes', { path: project, name: sandbox });
    expect(created.status, created.raw).toBe(201);
    sandboxId = created.body.id;
  });

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
    for (const u of [owner, attacker, outsider]) if (u) await execa('userdel', [u.name], { reject: false });
    await execa('groupdel', [group], { reject: false });
  });

  it('serves the socket 0660 root:<socket group>: a user outside the group cannot connect', async () => {
    const info = await stat(daemon.socket);
    expect(info.mode & 0o777).toBe(0o660);
    expect(info.uid).toBe(0);
    expect(info.gid).toBe(Number((await execa('getent', ['group', group])).stdout.split(':')[2]));
    const a = await as(outsider, 'GET', '/v1/version');
    expect(a.body).toBe('EACCES');
  });

  it('records the creating uid as the owner; the attacker does not see the sandbox in its list', async () => {
    const record = JSON.parse(
      await readFile(path.join(daemon.stateDir, 'sandboxes', sandboxId, 'sandbox.json'), 'utf8'),
    ) as { ownerUid: number };
    expect(record.ownerUid).toBe(owner.uid);
    const mine = await as(owner, 'GET', '/v1/sandboxes');
    expect(mine.body.sandboxes.map((s: { name: string }) => s.name)).toEqual([sandbox]);
    const theirs = await as(attacker, 'GET', '/v1/sandboxes');
    expect(theirs.status).toBe(200);
    expect(theirs.body.sandboxes).toEqual([]);
  });

  it('refuses exec over HTTP and over a WebSocket, running nothing', async () => {
    forbidden(
      await as(attacker, 'POST', `/v1/sandboxes/${sandbox}/exec`, { cmd: ['touch', '/workspace/pwned'] }),
    );
    const ws = await as(attacker, 'GET', `/v1/sandboxes/${sandbox}/exec/ws`, undefined, true);
    forbidden(ws);
    expect(ws.raw).not.toContain('101 Switching Protocols');
    const check = await daemon.exec(sandbox, ['sh', '-c', 'test -e /workspace/pwned && echo yes || echo no']);
    expect(check.stdout.trim()).toBe('no');
  });

  it('refuses stop, rm, logs and reading the record; the sandbox keeps running', async () => {
    forbidden(await as(attacker, 'POST', `/v1/sandboxes/${sandbox}/stop`));
    forbidden(await as(attacker, 'DELETE', `/v1/sandboxes/${sandbox}`));
    forbidden(await as(attacker, 'GET', `/v1/sandboxes/${sandbox}/logs`));
    forbidden(await as(attacker, 'GET', `/v1/sandboxes/${sandbox}`));
    forbidden(await as(attacker, 'POST', `/v1/sandboxes/${sandbox}/start`));
    expect(await stateOf()).toBe('running');
  });

  it('refuses its audit (tail, export, export by id) and its policy', async () => {
    forbidden(await as(attacker, 'GET', `/v1/audit?sandbox=${sandbox}`));
    forbidden(await as(attacker, 'GET', `/v1/audit/export?sandbox=${sandbox}`));
    forbidden(await as(attacker, 'GET', `/v1/audit/export?sandbox=${sandbox}&sandboxId=${sandboxId}`));
    forbidden(await as(attacker, 'GET', '/v1/audit'), 'API_ROOT_ONLY');
    forbidden(await as(attacker, 'GET', `/v1/policy?sandbox=${sandbox}`));
    forbidden(
      await as(attacker, 'POST', '/v1/policy/decide', { door: 'exec', sandbox, request: { argv: ['id'] } }),
    );
    const own = await as(owner, 'GET', `/v1/audit/export?sandbox=${sandbox}`);
    expect(own.status, own.raw).toBe(200);
  });

  it('refuses to show, approve or reject its pushes, and lists none of them', async () => {
    const id = `push_${randomBytes(6).toString('hex')}`;
    const now = new Date().toISOString();
    const push = {
      id,
      sandboxId,
      sandbox,
      repo: 'acme/widgets',
      ref: 'refs/heads/main',
      stagingRef: `refs/aibox/staging/${sandbox}/${id}`,
      commit: 'a'.repeat(40),
      decisionId: 'dec_0000',
      rule: 'test',
      state: 'pending',
      createdAt: now,
      updatedAt: now,
      history: [],
    };
    const file = path.join(daemon.stateDir, 'git-gate', 'pushes.json');
    await writeFile(file, JSON.stringify({ version: 1, pushes: [push] }));
    forbidden(await as(attacker, 'POST', `/v1/pushes/${id}/approve`, { commit: 'a'.repeat(40) }));
    forbidden(await as(attacker, 'POST', `/v1/pushes/${id}/reject`, { reason: 'mine now' }));
    forbidden(await as(attacker, 'POST', `/v1/pushes/${id}/show`));
    forbidden(await as(attacker, 'GET', `/v1/pushes/${id}`));
    expect((await as(attacker, 'GET', '/v1/pushes')).body.pushes).toEqual([]);
    const stored = JSON.parse(await readFile(file, 'utf8')) as {
      pushes: { state: string; history: unknown[] }[];
    };
    expect(stored.pushes[0]).toMatchObject({ state: 'pending', history: [] });
    // The owner gets past the access check (to the push gate's own answer).
    const own = await as(owner, 'GET', `/v1/pushes/${id}`);
    expect(own.status, own.raw).toBe(200);
    expect((await as(owner, 'GET', '/v1/pushes')).body.pushes.map((p: { id: string }) => p.id)).toEqual([id]);
  });

  it('refuses a sandbox or a task on a folder the attacker cannot itself write', async () => {
    const box = await as(attacker, 'POST', '/v1/sandboxes', { path: project, name: `steal-${tag}` });
    expect(box.status, box.raw).toBe(403);
    expect(box.body.error.code).toBe('SANDBOX_PATH_ACCESS');
    const task = await as(attacker, 'POST', '/v1/tasks', { repo: project, description: 'steal it' });
    expect(task.status, task.raw).toBe(403);
    expect(task.body.error.code).toBe('SANDBOX_PATH_ACCESS');
    const branches = await execa('git', ['-C', project, 'branch', '--list'], { reject: false });
    expect(branches.stdout).not.toContain('steal');
  });

  it('keeps daemon-wide changes for root: secrets and SSH keys', async () => {
    forbidden(
      await as(attacker, 'PUT', '/v1/secrets/anthropic', { value: 'sk-attacker-key' }),
      'API_ROOT_ONLY',
    );
    forbidden(await as(attacker, 'DELETE', '/v1/secrets/anthropic'), 'API_ROOT_ONLY');
    forbidden(
      await as(attacker, 'POST', '/v1/ssh-keys', {
        publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB attacker',
      }),
      'API_ROOT_ONLY',
    );
  });

  it('lets the owner exec, and root too', async () => {
    const own = await as(owner, 'POST', `/v1/sandboxes/${sandbox}/exec`, {
      cmd: ['cat', '/workspace/README.md'],
    });
    expect(own.status, own.raw).toBe(200);
    expect(own.body.stdout).toContain('# security-socket');
    expect((await daemon.exec(sandbox, ['true'])).exitCode).toBe(0);
  });

  it('keeps an exec env secret out of the URL and the daemon log', async () => {
    const secret = `sk-live-${randomBytes(12).toString('hex')}`;
    const r = await daemon.cli([
      'exec',
      '-e',
      `TOKEN=${secret}`,
      sandbox,
      '--',
      'sh',
      '-c',
      'printf %s "$TOKEN" | wc -c',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(String(secret.length));
    const log = await daemon.log();
    expect(log).toContain(`/v1/sandboxes/${sandbox}/exec/ws`);
    expect(log).not.toContain(secret);
    expect(log).not.toMatch(/exec\/ws\?/);
  });

  it('masks a stored secret value wherever it would land in a log line', async () => {
    const value = `sk-stored-${randomBytes(12).toString('hex')}`;
    const set = await daemon.api('PUT', `/v1/secrets/redact-${tag}`, { value });
    expect(set.status).toBe(200);
    // A request whose URL carries the value: the request log line is written with it masked.
    await daemon.api('GET', `/v1/sandboxes/${value}`);
    const log = await daemon.log();
    expect(log).not.toContain(value);
    expect(log).toContain('/v1/sandboxes/[REDACTED]');
    await daemon.api('DELETE', `/v1/secrets/redact-${tag}`);
  });

  it('answers exec in a missing working directory with 400 EXEC_WORKDIR_NOT_FOUND, over HTTP and the CLI', async () => {
    const http = await daemon.api<{ error: { code: string } }>('POST', `/v1/sandboxes/${sandbox}/exec`, {
      cmd: ['pwd'],
      workdir: '/no/such/dir',
    });
    expect(http.status).toBe(400);
    expect(http.body.error.code).toBe('EXEC_WORKDIR_NOT_FOUND');
    const cli = await daemon.cli(['exec', '-w', '/no/such/dir', sandbox, '--', 'pwd']);
    expect(cli.exitCode).not.toBe(0);
    expect(cli.stderr).toContain('EXEC_WORKDIR_NOT_FOUND');
    const ok = await daemon.cli(['exec', '-w', '/tmp', sandbox, '--', 'pwd']);
    expect(ok.stdout.trim()).toBe('/tmp');
  });

  it('lets the owner stop and remove it', async () => {
    const stop = await as(owner, 'POST', `/v1/sandboxes/${sandbox}/stop`);
    expect(stop.status, stop.raw).toBe(200);
    const removed = await as(owner, 'DELETE', `/v1/sandboxes/${sandbox}`);
    expect(removed.status, removed.raw).toBe(200);
    expect((await daemon.api('GET', `/v1/sandboxes/${sandbox}`)).status).toBe(404);
  });
  it('exits on SIGTERM within its bound with an exec stream open, closing it', async () => {
    const held = `held-${tag}`;
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name: held });
    expect(created.status).toBe(201);
    const pid = (await daemon.api<{ pid: number }>('GET', '/v1/status')).body.pid;
    const ws = new WebSocket(`ws+unix://${daemon.socket}:/v1/sandboxes/${held}/exec/ws`);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    ws.send(JSON.stringify({ type: 'start', spec: { cmd: ['sleep', '300'] } }));
    await new Promise((r) => setTimeout(r, 1500));
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
    expect(took, `exited after ${took} ms`).toBeLessThan(22_000);
    await closed;
    // Bring it back so the suite's cleanup removes the sandbox through the API.
    await daemon.restart();
  });
});
