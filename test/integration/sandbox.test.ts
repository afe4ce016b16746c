/**
 * The foundation, end to end: a real aiboxd, a real rootless Podman service, real gVisor sandboxes. Every property
 * is proven from inside the sandbox or on the host, never read back from our own configuration.
 */
import { readFile, stat, writeFile, rm } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { daemonIdFor } from '../../src/runtime/labels.js';

const run = requireHost(sandboxHostSupport(), 'sandbox integration');

describe.runIf(run)('a gVisor sandbox started by aiboxd', () => {
  let daemon: TestDaemon;
  let project: string;
  const name = 'found';

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'foundation' });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('foundation');
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name, profile: 'session' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('runs under gVisor: dmesg starts with gVisor', async () => {
    const r = await daemon.exec(name, ['sh', '-c', 'dmesg | head -1']);
    expect(r.stdout).toContain('Starting gVisor');
  });

  it('runs commands as uid 1001 with no capabilities and no_new_privs set', async () => {
    const r = await daemon.exec(name, [
      'python3',
      '-c',
      'import ctypes,os; print(os.getuid(), os.getgid()); print(open("/proc/self/status").read()); print("nnp", ctypes.CDLL(None).prctl(39,0,0,0,0))',
    ]);
    expect(r.stdout.split('\n')[0]).toBe('1001 1001');
    expect(r.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(r.stdout).toMatch(/CapPrm:\s+0000000000000000/);
    expect(r.stdout).toContain('nnp 1');
  });

  it('applies the seccomp profile to executed commands: creating a user namespace is refused', async () => {
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      'grep Seccomp: /proc/self/status; unshare -U true; echo rc=$?',
    ]);
    expect(r.stdout).toMatch(/Seccomp:\s+2/);
    expect(r.stdout).toContain('rc=1');
  });

  it('has no sudo and cannot become root', async () => {
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      'command -v sudo su-to-root; su -c true root </dev/null; echo rc=$?',
    ]);
    expect(r.stdout).not.toContain('/sudo');
    expect(r.stdout).toContain('rc=1');
  });

  it('keeps the root filesystem read-only', async () => {
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      'touch /x; echo root=$?; touch /usr/x; echo usr=$?; touch /etc/x; echo etc=$?',
    ]);
    expect(r.stdout).toContain('root=1');
    expect(r.stdout).toContain('usr=1');
    expect(r.stdout).toContain('etc=1');
  });

  it('writes to /workspace land in the project folder, owned by the project owner', async () => {
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      'echo from-sandbox > /workspace/hello.txt && mkdir -p /workspace/d && echo ok',
    ]);
    expect(r.stdout).toContain('ok');
    const file = path.join(project, 'hello.txt');
    expect(await readFile(file, 'utf8')).toBe('from-sandbox\n');
    const owner = await stat(project);
    expect((await stat(file)).uid).toBe(owner.uid);
    expect((await stat(path.join(project, 'd'))).uid).toBe(owner.uid);
  });

  it('sees host edits to the project at once', async () => {
    await writeFile(path.join(project, 'from-host.txt'), 'host\n');
    const r = await daemon.exec(name, ['cat', '/workspace/from-host.txt']);
    expect(r.stdout).toBe('host\n');
  });

  it('mounts .git/hooks and .git/config read-only so nothing runs on the host later', async () => {
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      'echo evil > /workspace/.git/hooks/post-checkout; echo hooks=$?; echo "[core]" >> /workspace/.git/config; echo config=$?; git -C /workspace log --oneline | wc -l',
    ]);
    expect(r.stdout).toContain('hooks=');
    expect(r.stdout).not.toContain('hooks=0');
    expect(r.stdout).not.toContain('config=0');
    expect(existsSync(path.join(project, '.git/hooks/post-checkout'))).toBe(false);
    expect(await readFile(path.join(project, '.git/config'), 'utf8')).not.toMatch(/\[core\]\s*$/);
  });

  it('contains a fork storm: fork fails inside with EAGAIN, the sandbox survives', async () => {
    // The session profile allows 100 processes: the 101st fork must fail inside, not take the sandbox down.
    const storm = await daemon.exec(name, [
      'python3',
      '-c',
      [
        'import os, signal, time',
        'pids = []',
        'try:',
        '    while len(pids) < 400:',
        '        pid = os.fork()',
        '        if pid == 0:',
        '            time.sleep(30); os._exit(0)',
        '        pids.append(pid)',
        'except OSError as e:',
        '    print("fork failed", e.errno, "after", len(pids), flush=True)',
        'for pid in pids:',
        '    os.kill(pid, signal.SIGKILL)',
        '    os.waitpid(pid, 0)',
      ].join('\n'),
    ]);
    const m = /fork failed (\d+) after (\d+)/.exec(storm.stdout);
    expect(m, storm.stdout + storm.stderr).not.toBeNull();
    expect(Number(m![1])).toBe(11); // EAGAIN
    // 100 forks at most: gVisor lets the 101st process of the uid exist (the python parent plus 100 children),
    // now that the first process (the agent) no longer runs as the sandbox user and so does not count.
    expect(Number(m![2])).toBeLessThanOrEqual(100);
    const after = await daemon.exec(name, ['sh', '-c', 'echo alive']);
    expect(after.stdout).toContain('alive');
  });

  it('passes exit codes, stdout and stderr through aibox exec', async () => {
    const r = await daemon.cli(['exec', name, '--', 'sh', '-c', 'echo out; echo err >&2; exit 42']);
    expect(r.exitCode).toBe(42);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err');
    const missing = await daemon.cli(['exec', name, '--', 'no-such-command']);
    expect(missing.exitCode).toBe(127);
  });

  it('passes stdin through aibox exec -i', async () => {
    const r = await daemon.cli(['exec', '-i', name, '--', 'tr', 'a-z', 'A-Z'], { input: 'hello\n' });
    expect(r.stdout).toBe('HELLO\n');
  });

  it('re-adopts a running sandbox after the daemon crashes', async () => {
    await daemon.exec(name, ['sh', '-c', 'echo before > /tmp/marker']);
    await daemon.crash();
    await daemon.restart();
    const r = await daemon.exec(name, ['cat', '/tmp/marker']);
    expect(r.stdout).toBe('before\n');
    const status = await daemon.api<{ state: string }>('GET', `/v1/sandboxes/${name}`);
    expect(status.body.state).toBe('running');
  });
});

describe.runIf(run)('bad input to aiboxd', () => {
  let daemon: TestDaemon;
  let project: string;

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'badinput' });
    project = await makeProject('badinput');
  });
  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    ['an unknown sandbox', () => daemon.api('GET', '/v1/sandboxes/nope'), 404, 'SANDBOX_NOT_FOUND'],
    [
      'an invalid name',
      () => daemon.api('POST', '/v1/sandboxes', { path: project, name: 'Bad Name!' }),
      400,
      'API_INVALID_REQUEST',
    ],
    [
      'a missing path',
      () => daemon.api('POST', '/v1/sandboxes', { path: '/nonexistent/x', name: 'x1' }),
      400,
      'SANDBOX_PATH_NOT_FOUND',
    ],
    [
      'a relative path',
      () => daemon.api('POST', '/v1/sandboxes', { path: 'relative', name: 'x2' }),
      400,
      'SANDBOX_PATH_INVALID',
    ],
    [
      'the host root',
      () => daemon.api('POST', '/v1/sandboxes', { path: '/', name: 'x3' }),
      400,
      'SANDBOX_PATH_INVALID',
    ],
    [
      'an unknown profile',
      () => daemon.api('POST', '/v1/sandboxes', { path: project, name: 'x4', profile: 'nope' }),
      404,
      'PROFILE_NOT_FOUND',
    ],
    [
      'an unknown field',
      () => daemon.api('POST', '/v1/sandboxes', { path: project, bogus: 1 }),
      400,
      'API_INVALID_REQUEST',
    ],
    [
      'exec without a command',
      () => daemon.api('POST', '/v1/sandboxes/nope/exec', { cmd: [] }),
      400,
      'API_INVALID_REQUEST',
    ],
    ['an unknown route', () => daemon.api('GET', '/v1/nothing'), 404, 'API_ROUTE_NOT_FOUND'],
  ];
  for (const [what, call, status, code] of cases) {
    it(`answers ${what} with ${status} ${code} and a hint`, async () => {
      const r = await call();
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(r.body.error.hint.length).toBeGreaterThan(10);
      expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts:\d+/);
    });
  }

  it('answers malformed JSON with a 400', async () => {
    const http = await import('node:http');
    const status = await new Promise<number>((resolve) => {
      const req = http.request(
        {
          socketPath: daemon.socket,
          path: '/v1/sandboxes',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.end('{not json');
    });
    expect(status).toBe(400);
  });

  it('refuses a duplicate name and leaves nothing half-created', async () => {
    const first = await daemon.api('POST', '/v1/sandboxes', { path: project, name: 'dup' });
    expect(first.status).toBe(201);
    const second = await daemon.api('POST', '/v1/sandboxes', { path: project, name: 'dup' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('SANDBOX_NAME_TAKEN');
    const list = await daemon.api<{ sandboxes: unknown[] }>('GET', '/v1/sandboxes');
    expect(list.body.sandboxes).toHaveLength(1);
  });

  it('reports a daemon that is not running through the CLI with exit code 3', async () => {
    const r = await daemon.cli(['list'], { env: { AIBOX_SOCKET: path.join(daemon.dir, 'none.sock') } });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('DAEMON_NOT_RUNNING');
  });

  it('leaves nothing behind after aibox rm: container, mount, cgroups, state', async () => {
    const created = await daemon.api<{ id: string; containerId: string }>('GET', '/v1/sandboxes/dup');
    const { id } = created.body;
    const rmd = await daemon.cli(['rm', 'dup']);
    expect(rmd.exitCode, rmd.stderr).toBe(0);
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(id);
    expect(existsSync(`/sys/fs/cgroup/pids/aibox/${id}`)).toBe(false);
    expect(existsSync(path.join(daemon.stateDir, 'sandboxes', id))).toBe(false);
    const containers = await daemon.api<{ sandboxes: unknown[] }>('GET', '/v1/sandboxes');
    expect(containers.body.sandboxes).toHaveLength(0);
    const podmanList = await listContainersByLabel(daemon, id);
    expect(podmanList).toHaveLength(0);
    expect(readdirSync('/run/aibox/mounts')).not.toContain(id);
    expect(readdirSync(path.join('/run/aibox/mounts', daemonIdFor(daemon.stateDir)))).not.toContain(id);
  });
});

async function listContainersByLabel(daemon: TestDaemon, sandboxId: string): Promise<unknown[]> {
  const http = await import('node:http');
  const filters = encodeURIComponent(JSON.stringify({ label: [`io.aibox.sandbox.id=${sandboxId}`] }));
  return new Promise((resolve, reject) => {
    http
      .get(
        {
          socketPath: path.join(daemon.stateDir, 'podman/podman.sock'),
          path: `/containers/json?all=true&filters=${filters}`,
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text) as unknown[]));
        },
      )
      .on('error', reject);
  });
}
