/**
 * The session API end to end over TCP, on a real aiboxd with real gVisor sessions: tokens (CLI, scopes, revoke),
 * sessions through the TypeScript SDK (exec with a timeout, streaming exec with stdin, binary and tar file round
 * trips, the path-escape battery against links the sandbox plants), the compatibility endpoints driven by the
 * Python client, quotas with Retry-After, idle TTL leaving nothing behind, metrics and the OpenAPI document.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import {
  AiboxClient,
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
  type ExecEvent,
} from '../../packages/sdk/src/index.js';
import { makeTar, readTar } from '../sessions/helpers.js';

const run = requireHost(sandboxHostSupport(), 'sessions');
const PYTHON_CLIENT = fileURLToPath(new URL('../../clients/python/src', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function raw(url: string, path: string, token?: string) {
  const res = await fetch(`${url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: (await res.json().catch(() => ({}))) as { error?: { code: string } } };
}

describe.runIf(run)('the session API over TCP with real gVisor sessions', () => {
  let d: TestDaemon;
  let url: string;
  let adminToken: string;
  let admin: AiboxClient;
  let client: AiboxClient;
  let sessionsToken: string;

  beforeAll(async () => {
    const port = await freePort();
    d = await startTestDaemon({
      name: 'sessions',
      config: {
        sessions: {
          listener: { enabled: true, host: '127.0.0.1', port },
          maxPerToken: 2,
          defaultIdleSeconds: 300,
        },
      },
    });
    url = `http://127.0.0.1:${port}`;
    const created = await d.cli(['token', 'create', 'ops', '--scope', 'admin', '--json']);
    expect(created.exitCode, created.stderr).toBe(0);
    adminToken = (JSON.parse(created.stdout) as { token: string }).token;
    admin = new AiboxClient({ baseUrl: url, token: adminToken });
    sessionsToken = (await admin.tokens.create({ name: 'agent', scope: 'sessions', team: 'platform' })).token;
    client = new AiboxClient({ baseUrl: url, token: sessionsToken });
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('refuses requests without a valid token (401) and routes outside the token scope (403)', async () => {
    expect(await raw(url, '/v1/sessions')).toMatchObject({
      status: 401,
      body: { error: { code: 'TOKEN_MISSING' } },
    });
    expect(await raw(url, '/v1/sessions', 'aibox_tok_000000000000_' + 'A'.repeat(43))).toMatchObject({
      status: 401,
      body: { error: { code: 'TOKEN_INVALID' } },
    });
    expect(await raw(url, '/v1/tokens', sessionsToken)).toMatchObject({
      status: 403,
      body: { error: { code: 'TOKEN_SCOPE' } },
    });
    // the unix socket's routes are not served to tokens, not even to admin ones
    expect(await raw(url, '/v1/sandboxes', adminToken)).toMatchObject({
      status: 403,
      body: { error: { code: 'TOKEN_SCOPE' } },
    });
    expect(await raw(url, '/v1/secrets', adminToken)).toMatchObject({ status: 403 });
    const list = await d.cli(['token', 'list', '--json']);
    const names = (JSON.parse(list.stdout) as { tokens: { name: string; team?: string }[] }).tokens;
    expect(names.map((t) => [t.name, t.team])).toEqual([
      ['ops', undefined],
      ['agent', 'platform'],
    ]);
    expect(list.stdout).not.toContain(sessionsToken.slice(-20));
  });

  it('runs commands in a session as the sandbox user, with a timeout, and streams with stdin', async () => {
    await using s = await client.createSession({ env: { GREETING: 'hi' } });
    const id = await s.exec(['sh', '-c', 'id -u; echo $GREETING; pwd; cat /proc/version']);
    expect(id.exitCode).toBe(0);
    expect(id.stdout.split('\n').slice(0, 3)).toEqual(['1001', 'hi', '/workspace']);
    expect((await s.exec(['dmesg'])).stdout).toContain('Starting gVisor'); // a real gVisor sandbox
    const started = Date.now();
    const slow = await s.exec(['sleep', '30'], { timeoutSeconds: 1 });
    expect(slow).toMatchObject({ exitCode: 137, timedOut: true });
    expect(Date.now() - started).toBeLessThan(10_000);
    const stream = s.execStream(['sh', '-c', 'tr a-z A-Z; echo done >&2']);
    stream.write('hello from stdin\n');
    stream.end();
    const events: ExecEvent[] = [];
    for await (const ev of stream) events.push(ev);
    const text = (t: string) =>
      events
        .filter((e) => e.type === t)
        .map((e) => ('data' in e ? e.data.toString() : ''))
        .join('');
    expect(text('stdout')).toBe('HELLO FROM STDIN\n');
    expect(text('stderr')).toBe('done\n');
    expect(await stream.exit).toBe(0);
  });

  it("applies the token's team layer to its sessions only (team platform refuses kubectl)", async () => {
    await using teamed = await client.createSession();
    expect(teamed.info.team).toBe('platform');
    const refused = await teamed.exec(['kubectl', 'version']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PermissionDeniedError);
    expect((refused as PermissionDeniedError).code).toBe('POLICY_DENIED');
    expect((refused as PermissionDeniedError).message).toContain('team:platform');
    // the admin token has no team: the same command passes the exec door (and is simply not installed)
    await using plain = await admin.createSession();
    expect((await plain.exec(['kubectl', 'version'])).exitCode).toBe(127);
    // the policy in force per sandbox: one session sandbox with the team layer, one without
    const names = (await d.api<{ sandboxes: { name: string }[] }>('GET', '/v1/sandboxes')).body.sandboxes.map(
      (x) => x.name,
    );
    const layers = await Promise.all(
      names.map(async (n) =>
        (await d.api<{ layers: string[] }>('GET', `/v1/policy?sandbox=${n}`)).body.layers.join(','),
      ),
    );
    expect(layers).toContain('org,team:platform,project');
    expect(layers.filter((l) => !l.includes('team:platform')).length).toBeGreaterThan(0);
  });

  it('round-trips binary, large and tar files, and refuses every path escape', async () => {
    await using s = await client.createSession();
    const big = randomBytes(5 * 1024 * 1024 + 17);
    expect(await s.writeFile('data/big.bin', big)).toBe(big.length);
    const sum = await s.exec(['sha256sum', 'data/big.bin']);
    expect(sum.stdout.split(' ')[0]).toBe(createHash('sha256').update(big).digest('hex'));
    expect((await s.readFile('/workspace/data/big.bin')).equals(big)).toBe(true);
    const tar = await makeTar([
      { name: 'src/', type: 'directory' },
      { name: 'src/main.py', data: 'print(6 * 7)\n' },
    ]);
    expect(await s.uploadTar(tar, 'proj')).toMatchObject({ files: 1, directories: 1 });
    expect((await s.exec(['python3', 'proj/src/main.py'])).stdout).toBe('42\n');
    const back = await readTar(await s.downloadTar('proj'));
    expect(back.get('src/main.py')?.data.toString()).toBe('print(6 * 7)\n');
    // links planted from inside the sandbox: to the root, to a sibling folder, and a file link
    await s.exec([
      'sh',
      '-c',
      'ln -s / root && ln -s /etc etc && ln -s /etc/passwd passwd && mkdir d && ln -s .. d/up',
    ]);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    for (const p of ['root/etc/passwd', 'etc/passwd', 'passwd', 'd/up/passwd']) {
      expect(await code(s.readFile(p)), p).toBe('SESSION_PATH_ESCAPE');
    }
    expect(await code(s.writeFile('root/tmp/planted', 'x'))).toBe('SESSION_PATH_ESCAPE');
    expect(await code(s.list('etc'))).toBe('SESSION_PATH_ESCAPE');
    expect(await code(s.uploadTar(await makeTar([{ name: 'x', data: 'x' }]), 'root/tmp'))).toBe(
      'SESSION_PATH_ESCAPE',
    );
    expect(await code(s.readFile('../../etc/passwd'))).toBe('SESSION_PATH_INVALID');
    // a tar refused part-way writes nothing: not its good entries, not its staging folder
    const bad = await makeTar([
      { name: 'good.txt', data: 'first' },
      { name: 'link', type: 'symlink', linkname: '/etc/passwd' },
    ]);
    expect(await code(s.uploadTar(bad, 'partial'))).toBe('SESSION_TAR_ENTRY_REFUSED');
    const top = (await s.list('.')).map((e) => e.name);
    expect(top).not.toContain('partial');
    expect(top.filter((n) => n.startsWith('.aibox-tar-'))).toEqual([]);
    expect(await code(s.readFile('/etc/passwd'))).toBe('SESSION_PATH_INVALID');
    expect(await code(s.uploadTar(await makeTar([{ name: '../evil', data: 'x' }])))).toBe(
      'SESSION_TAR_ENTRY_REFUSED',
    );
    expect(await code(s.uploadTar(await makeTar([{ name: 'l', type: 'symlink', linkname: '/' }])))).toBe(
      'SESSION_TAR_ENTRY_REFUSED',
    );
    // a link is removed as itself
    await s.remove('etc');
    expect((await s.exec(['test', '-f', '/etc/passwd'])).exitCode).toBe(0);
  });

  it('serves the compatibility endpoints to the Python client', async () => {
    const script = [
      'import json, os',
      'from aibox_client import AiboxClient',
      'c = AiboxClient().compat',
      'sid = c.create_session()',
      'r = c.execute(sid, "echo out; echo err >&2; exit 3")',
      'c.cleanup(sid)',
      'print(json.dumps({"sid": sid, **r}))',
    ].join('\n');
    const { stdout } = await promisify(execFile)('python3', ['-c', script], {
      env: { ...process.env, PYTHONPATH: PYTHON_CLIENT, AIBOX_URL: url, AIBOX_TOKEN: sessionsToken },
    });
    const out = JSON.parse(stdout) as { sid: string; exit_code: number; output: string };
    expect(out).toMatchObject({ exit_code: 3, output: 'out\nerr\n' });
    expect((await raw(url, `/v1/sessions/${out.sid}`, sessionsToken)).status).toBe(404);
  });

  it('streams exec with stdin from the Python client, and kills it at its timeout', async () => {
    const script = [
      'import json',
      'from aibox_client import AiboxClient',
      'out = {}',
      'with AiboxClient().session() as s:',
      '    run = s.exec_stream(["sh", "-c", "tr a-z A-Z; id -u >&2"])',
      '    run.write("from python\\n")',
      '    run.close_stdin()',
      '    got = {"stdout": b"", "stderr": b""}',
      '    for name, data in run:',
      '        got[name] += data',
      '    out["stdout"], out["stderr"], out["exit"] = got["stdout"].decode(), got["stderr"].decode(), run.exit_code',
      '    slow = s.exec_stream(["sleep", "30"], timeout=1)',
      '    out["slow"] = [slow.wait(), slow.timed_out]',
      'print(json.dumps(out))',
    ].join('\n');
    const { stdout } = await promisify(execFile)('python3', ['-B', '-c', script], {
      env: { ...process.env, PYTHONPATH: PYTHON_CLIENT, AIBOX_URL: url, AIBOX_TOKEN: sessionsToken },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      stdout: 'FROM PYTHON\n',
      stderr: '1001\n',
      exit: 0,
      slow: [137, true],
    });
  });

  it('refuses a session over the per-token quota with 429 and Retry-After', async () => {
    const a = await client.createSession();
    const b = await client.createSession();
    const err = await client.createSession().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).code).toBe('SESSION_QUOTA');
    expect((err as RateLimitError).retryAfterSeconds).toBeGreaterThan(0);
    // another token's sessions are invisible (404), an admin sees them
    expect((await admin.listSessions()).map((x) => x.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    await a.close();
    await b.close();
  });

  it('removes an idle session at its TTL, with its sandbox', async () => {
    const s = await client.createSession({ idleTtlSeconds: 2 });
    const before = (await d.api<{ sandboxes: { name: string }[] }>('GET', '/v1/sandboxes')).body.sandboxes
      .length;
    await new Promise((r) => setTimeout(r, 4_500));
    expect((await raw(url, `/v1/sessions/${s.id}`, sessionsToken)).status).toBe(404);
    const after = (await d.api<{ sandboxes: { name: string }[] }>('GET', '/v1/sandboxes')).body.sandboxes
      .length;
    expect(after).toBe(before - 1);
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
    const text = await metrics.text();
    expect(text).toMatch(/aibox_sessions_expired_total\{reason="idle"\} 1/);
    expect(text).toMatch(/aibox_session_exec_seconds_count \d+/);
  });

  it('lists every route in the OpenAPI document', async () => {
    const doc = (await (
      await fetch(`${url}/v1/openapi.json`, { headers: { authorization: `Bearer ${sessionsToken}` } })
    ).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { 'x-error-codes': string[] }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/v1/sessions/{id}/exec']?.post?.['x-error-codes']).toContain('SESSION_NOT_FOUND');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/sandboxes', '/create_session', '/metrics']),
    );
  });

  it('refuses a revoked token at once', async () => {
    await admin.tokens.revoke('agent');
    const err = await client.listSessions().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).code).toBe('TOKEN_REVOKED');
    // and a sessions token cannot manage tokens
    const other = new AiboxClient({
      baseUrl: url,
      token: (await admin.tokens.create({ name: 'low' })).token,
    });
    expect(await other.tokens.list().catch((e: unknown) => e)).toBeInstanceOf(PermissionDeniedError);
  });
});
