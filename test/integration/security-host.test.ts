/**
 * The daemon's host-side steps played as an attacker: from inside a real gVisor sandbox (links planted in the
 * workspace, set-uid files, dialling the host during stop) and as a local user (links in the project path, a
 * folder swapped between create and start, a folder the caller cannot itself use). Each attack must get nothing,
 * leave nothing mounted, and the legitimate path must keep working.
 */
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { daemonIdFor } from '../../src/runtime/labels.js';
import { WorkspaceMounts } from '../../src/runtime/workspace-mount.js';

const run = requireHost(sandboxHostSupport(), 'host security integration');
const MOUNTS = '/run/aibox/mounts';
const SOCKET_GROUP = 'aibox-users';
const ATTACKER = 'aibox-sec1';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ErrorBody {
  error: { code: string; message: string; hint: string };
}

async function mountsOf(daemon: TestDaemon): Promise<string[]> {
  const root = path.join(MOUNTS, daemonIdFor(daemon.stateDir));
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${root}/`));
}

async function ids(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await execa('id', ['-u', user])).stdout);
  const gid = Number((await execa('id', ['-g', user])).stdout);
  return { uid, gid };
}

/** A local user who is in the socket group (not root): the second user of the issue. */
async function ensureAttacker(): Promise<{ uid: number; gid: number }> {
  await execa('sh', ['-c', `getent group ${SOCKET_GROUP} >/dev/null || groupadd --system ${SOCKET_GROUP}`]);
  const exists = await execa('id', [ATTACKER], { reject: false });
  if (exists.exitCode !== 0) {
    await execa('useradd', ['--system', '-M', '-s', '/usr/sbin/nologin', '-G', SOCKET_GROUP, ATTACKER]);
  }
  await execa('gpasswd', ['-a', ATTACKER, SOCKET_GROUP]);
  return ids(ATTACKER);
}

/** Calls the daemon's API as `user` (its uid, gid and groups): the daemon sees that uid through SO_PEERCRED. */
async function apiAs<T>(
  daemon: TestDaemon,
  user: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const script = `
    const http = require('node:http');
    const payload = process.argv[4] ? process.argv[4] : undefined;
    const req = http.request({ socketPath: process.argv[1], path: process.argv[3], method: process.argv[2],
      headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => { let t = ''; res.on('data', (c) => (t += c)); res.on('end', () => {
        process.stdout.write(JSON.stringify({ status: res.statusCode, body: JSON.parse(t || 'null') })); }); });
    req.on('error', (e) => { process.stdout.write(JSON.stringify({ status: 0, body: String(e) })); });
    if (payload) req.write(payload);
    req.end();`;
  const r = await execa(
    'setpriv',
    [
      `--reuid=${user}`,
      `--regid=${user}`,
      '--init-groups',
      process.execPath,
      '-e',
      script,
      daemon.socket,
      method,
      route,
      ...(body === undefined ? [] : [JSON.stringify(body)]),
    ],
    { reject: false, cwd: '/' },
  );
  if (!r.stdout) throw new Error(`apiAs failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; body: T };
}

describe.runIf(run)('host-side attacks on aiboxd', () => {
  let daemon: TestDaemon;
  let base: string;
  const projects: string[] = [];
  const project = async (name: string) => {
    const p = await makeProject(name);
    projects.push(p);
    return p;
  };

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'sechost' });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    base = await mkdtemp(path.join(tmpdir(), 'aibox-sec-'));
    await chmod(base, 0o755);
  });

  afterAll(async () => {
    await daemon?.stop();
    for (const p of projects) await rm(p, { recursive: true, force: true });
    for (const p of projects) await rm(`${p}.orig`, { recursive: true, force: true });
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('refuses a symbolic link at any component of the project path, and a forbidden place by prefix', async () => {
    const p = await project('sec-links');
    await symlink(p, path.join(base, 'final'));
    await symlink(path.dirname(p), path.join(base, 'middle'));
    await symlink('/etc', path.join(base, 'etc'));
    const attempts: [string, number, string][] = [
      [path.join(base, 'final'), 400, 'SANDBOX_PATH_SYMLINK'],
      [path.join(base, 'middle', path.basename(p)), 400, 'SANDBOX_PATH_SYMLINK'],
      [path.join(base, 'etc'), 400, 'SANDBOX_PATH_SYMLINK'],
      [path.join(base, 'etc', 'ssh'), 400, 'SANDBOX_PATH_SYMLINK'],
      // `..` is resolved on the path as written, never through a link: base/etc/.. is base (root's), not /.
      [`${path.join(base, 'etc')}/..`, 400, 'SANDBOX_PATH_ROOT_OWNED'],
      ['/tmp/../etc', 400, 'SANDBOX_PATH_INVALID'],
      ['/usr/share', 400, 'SANDBOX_PATH_INVALID'],
      ['/etc/ssh', 400, 'SANDBOX_PATH_INVALID'],
      ['/var/lib', 400, 'SANDBOX_PATH_INVALID'],
      [daemon.stateDir, 400, 'SANDBOX_PATH_INVALID'],
    ];
    let n = 0;
    for (const [input, status, code] of attempts) {
      const r = await daemon.api<ErrorBody>('POST', '/v1/sandboxes', { path: input, name: `l${n++}` });
      expect([input, r.status, r.body.error?.code]).toEqual([input, status, code]);
      expect(r.body.error.hint.length).toBeGreaterThan(10);
    }
    const list = await daemon.api<{ sandboxes: unknown[] }>('GET', '/v1/sandboxes');
    expect(list.body.sandboxes).toEqual([]);
    expect(await mountsOf(daemon)).toEqual([]);
    // The real path works.
    const ok = await daemon.api('POST', '/v1/sandboxes', { path: p, name: 'links-ok', profile: 'session' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect((await daemon.api('DELETE', '/v1/sandboxes/links-ok')).status).toBe(200);
  });

  it('refuses to start on a folder swapped after create (another folder, or a link to the right one)', async () => {
    const p = await project('sec-swap');
    const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', {
      path: p,
      name: 'swap',
      profile: 'session',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await daemon.api('POST', '/v1/sandboxes/swap/stop')).status).toBe(200);

    await rename(p, `${p}.orig`);
    await mkdir(p);
    await chown(p, ...(Object.values(await ids('aibox')) as [number, number]));
    const other = await daemon.api<ErrorBody>('POST', '/v1/sandboxes/swap/start');
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('SANDBOX_PATH_CHANGED');
    expect(await mountsOf(daemon)).toEqual([]);

    await rm(p, { recursive: true });
    await symlink(`${p}.orig`, p);
    const link = await daemon.api<ErrorBody>('POST', '/v1/sandboxes/swap/start');
    expect(link.status).toBe(400);
    expect(link.body.error.code).toBe('SANDBOX_PATH_SYMLINK');
    expect(await mountsOf(daemon)).toEqual([]);
    expect((await daemon.api<{ state: string }>('GET', '/v1/sandboxes/swap')).body.state).toBe('stopped');

    await rm(p);
    await rename(`${p}.orig`, p);
    const back = await daemon.api<{ state: string }>('POST', '/v1/sandboxes/swap/start');
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body.state).toBe('running');
    expect((await daemon.api('DELETE', '/v1/sandboxes/swap')).status).toBe(200);
  });

  it('never mounts /etc while the project path is swapped with a link to it in a loop (check vs use)', async () => {
    const p = await project('sec-race');
    const real = `${p}.orig`;
    await rename(p, real);
    const swapper = execa(
      'python3',
      [
        '-c',
        [
          'import os, sys, time',
          'p = sys.argv[1]',
          'while True:',
          '    os.rename(p + ".orig", p); time.sleep(0.002); os.rename(p, p + ".orig")',
          '    os.symlink("/etc", p); time.sleep(0.002); os.unlink(p)',
        ].join('\n'),
        p,
      ],
      { reject: false },
    );
    const outcomes: number[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const r = await daemon.api<{ id?: string }>('POST', '/v1/sandboxes', {
          path: p,
          name: `race${i}`,
          profile: 'session',
        });
        outcomes.push(r.status);
        if (r.status === 201) {
          // Whatever it got, it is the project: the README is there, no file of /etc is.
          const seen = await daemon.exec(`race${i}`, ['sh', '-c', 'ls /workspace']);
          expect(seen.stdout).toContain('README.md');
          expect(seen.stdout).not.toContain('passwd');
          expect((await daemon.api('DELETE', `/v1/sandboxes/race${i}`)).status).toBe(200);
        }
        expect((await mountsOf(daemon)).some((m) => m.includes('/etc'))).toBe(false);
      }
    } finally {
      swapper.kill('SIGKILL');
      await swapper;
      if (!existsSync(real)) {
        await rm(p, { force: true, recursive: false }).catch(() => undefined);
        await rename(p, real).catch(() => undefined);
      }
      await rm(p, { force: true }).catch(() => undefined);
      await rename(real, p).catch(() => undefined);
    }
    const list = await daemon.api<{ sandboxes: unknown[] }>('GET', '/v1/sandboxes');
    expect(list.body.sandboxes).toEqual([]);
    expect(await mountsOf(daemon)).toEqual([]);
    // Refusals are the caller's errors, never the daemon's.
    expect(
      outcomes.every((s) => s === 201 || (s >= 400 && s < 500)),
      outcomes.join(' '),
    ).toBe(true);
  });

  it('never mounts what a link planted by the agent points to (.git/hooks, aibox/ → /etc)', async () => {
    const p = await project('sec-hooks');
    await rm(path.join(p, '.git/hooks'), { recursive: true, force: true });
    const created = await daemon.api('POST', '/v1/sandboxes', { path: p, name: 'hooks', profile: 'session' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    try {
      // Whichever of these the layers let it plant, the next start must not bind the host's /etc anywhere.
      await daemon.exec('hooks', [
        'sh',
        '-c',
        'ln -s /etc /workspace/.git/hooks; ln -s /etc /workspace/aibox; ln -s /etc /workspace/.git/info; true',
      ]);
      expect((await daemon.api('POST', '/v1/sandboxes/hooks/stop')).status).toBe(200);
      const start = await daemon.api<ErrorBody>('POST', '/v1/sandboxes/hooks/start');
      if (start.status === 200) {
        const hostName = (await readFile('/etc/hostname', 'utf8')).trim();
        const seen = await daemon.exec('hooks', [
          'sh',
          '-c',
          'cat /workspace/.git/hooks/hostname /workspace/aibox/hostname /workspace/.git/info/hostname 2>/dev/null',
        ]);
        expect(seen.stdout).not.toContain(hostName);
        expect((await mountsOf(daemon)).some((m) => m.includes('/etc'))).toBe(false);
      } else {
        expect(start.status).toBeGreaterThanOrEqual(400);
        expect(start.status).toBeLessThan(500);
        expect(['RUNTIME_MOUNT_REFUSED', 'GIT_METADATA_UNSAFE', 'POLICY_PROJECT_UNSAFE']).toContain(
          start.body.error.code,
        );
        expect(await mountsOf(daemon)).toEqual([]);
      }
    } finally {
      await daemon.api('DELETE', '/v1/sandboxes/hooks');
    }
  });

  it('refuses a read-only path that is a link when the runtime mounts it (below every layer)', async () => {
    const mountsDir = await mkdtemp(path.join(tmpdir(), 'aibox-sec-ro-'));
    const mounts = new WorkspaceMounts(mountsDir, 'testdaemon');
    const p = await project('sec-ro');
    await rm(path.join(p, '.git/hooks'), { recursive: true, force: true });
    await symlink('/etc', path.join(p, '.git/hooks'));
    try {
      // The runtime's read-only paths are opened inside aiboxd's own workspace mount: here, the project itself.
      await expect(
        mounts.prepare('sbx_ro00000000', [
          { source: path.join(p, '.git/hooks'), readOnly: true, forbid: [] },
        ]),
      ).rejects.toMatchObject({ code: 'RUNTIME_MOUNT_REFUSED' });
      expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(mountsDir)).toBe(false);
    } finally {
      await mounts.unmount('sbx_ro00000000');
      await rm(mountsDir, { recursive: true, force: true });
    }
  });

  it('makes extra mounts from no-follow fds: a link in the source is refused, a real one is nosuid,nodev', async () => {
    const mountsDir = await mkdtemp(path.join(tmpdir(), 'aibox-sec-mounts-'));
    const mounts = new WorkspaceMounts(mountsDir, 'testdaemon');
    const real = path.join(base, 'extra-real');
    await mkdir(real);
    await symlink(base, path.join(base, 'extra-link'));
    try {
      await expect(
        mounts.prepare('sbx_extra0000', [
          { source: path.join(base, 'extra-link', 'extra-real'), readOnly: false, forbid: [] },
        ]),
      ).rejects.toMatchObject({ code: 'RUNTIME_MOUNT_REFUSED' });
      await expect(
        mounts.prepare('sbx_extra0000', [{ source: '/etc', readOnly: true, forbid: ['/etc'] }]),
      ).rejects.toMatchObject({ code: 'RUNTIME_MOUNT_REFUSED' });
      const [made] = await mounts.prepare('sbx_extra0000', [
        { source: real, readOnly: true, forbid: ['/etc'] },
      ]);
      const options = (await execa('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', made!])).stdout;
      expect(options.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
    } finally {
      await mounts.unmount('sbx_extra0000');
      await rm(mountsDir, { recursive: true, force: true });
    }
    expect(existsSync(path.join(mountsDir, 'testdaemon', 'sbx_extra0000'))).toBe(false);
  });

  it('refuses a root-owned project: the agent is never root on the host', async () => {
    const rootOwned = await mkdtemp(path.join(tmpdir(), 'aibox-sec-rootowned-'));
    projects.push(rootOwned);
    const r = await daemon.api<ErrorBody>('POST', '/v1/sandboxes', { path: rootOwned, name: 'rootowned' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('SANDBOX_PATH_ROOT_OWNED');
    expect(r.body.error.hint).toMatch(/chown/);
    expect(await mountsOf(daemon)).toEqual([]);
  });

  it('mounts the workspace nosuid,nodev: a set-uid copy made inside gains nothing on the host, devices do not work', async () => {
    const attacker = await ensureAttacker();
    const p = await project('sec-suid');
    await chmod(p, 0o755); // the second user may run what is in it
    await execa('mknod', [path.join(p, 'null-dev'), 'c', '1', '3']);
    await chown(path.join(p, 'null-dev'), ...(Object.values(await ids('aibox')) as [number, number]));
    const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', {
      path: p,
      name: 'suid',
      profile: 'session',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const ws = path.join(MOUNTS, daemonIdFor(daemon.stateDir), created.body.id, 'workspace');
    const options = (await execa('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', ws])).stdout.split(',');
    expect(options).toEqual(expect.arrayContaining(['nosuid', 'nodev']));

    const inside = await daemon.exec('suid', [
      'sh',
      '-c',
      'cp /usr/bin/python3 /workspace/suid-py && chmod 4755 /workspace/suid-py; echo chmod=$?; ' +
        'echo x > /workspace/null-dev; echo dev=$?; mknod /workspace/mk c 1 3; echo mknod=$?',
    ]);
    expect(inside.stdout).toContain('chmod=');
    expect(inside.stdout).not.toContain('dev=0');
    expect(inside.stdout).not.toContain('mknod=0');

    const file = path.join(p, 'suid-py');
    const st = await stat(file);
    expect(st.uid).not.toBe(0);
    expect(st.uid).toBe((await ids('aibox')).uid);
    const euid = await execa(
      'setpriv',
      [
        `--reuid=${attacker.uid}`,
        `--regid=${attacker.gid}`,
        '--clear-groups',
        file,
        '-c',
        'import os; print(os.geteuid())',
      ],
      { reject: false },
    );
    expect(euid.stdout.trim()).not.toBe('0');
    expect((await daemon.api('DELETE', '/v1/sandboxes/suid')).status).toBe(200);
  });

  it('keeps egress enforced until the container is gone: a dialling loop reaches the host 0 times during stop', async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const p = await project('sec-dial');
      const created = await daemon.api('POST', '/v1/sandboxes', {
        path: p,
        name: 'dial',
        profile: 'session',
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await writeFile(
        path.join(p, 'dial.py'),
        [
          'import socket, sys, time',
          'tries = 0',
          'while True:',
          '    tries += 1',
          '    s = socket.socket(); s.settimeout(0.2)',
          '    try:',
          `        s.connect(("10.0.2.2", ${port})); open("/workspace/dial.ok", "a").write("x")`,
          '    except Exception:',
          '        pass',
          '    finally:',
          '        s.close()',
          '    if tries % 5 == 0: open("/workspace/dial.tries", "w").write(str(tries))',
          '    time.sleep(0.02)',
        ].join('\n'),
      );
      await daemon.exec('dial', ['sh', '-c', 'python3 /workspace/dial.py >/dev/null 2>&1 </dev/null &']);
      const tries = async () => Number(await readFile(path.join(p, 'dial.tries'), 'utf8').catch(() => '0'));
      const deadline = Date.now() + 20_000;
      while ((await tries()) < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(await tries()).toBeGreaterThanOrEqual(10);
      expect(connections).toBe(0);

      const before = await tries();
      const stopped = await daemon.cli(['stop', 'dial']);
      expect(stopped.exitCode, stopped.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 1000));
      // The loop kept dialling into the stop (it ran), and got nowhere.
      expect(await tries()).toBeGreaterThan(before);
      expect(connections).toBe(0);
      expect(existsSync(path.join(p, 'dial.ok'))).toBe(false);
      expect((await daemon.api('DELETE', '/v1/sandboxes/dial')).status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('lets a local user create a sandbox only on a folder it can itself read, write and enter', async () => {
    const attacker = await ensureAttacker();
    const socketGroup = (await stat(daemon.socket)).gid;
    const groupLine = (await execa('getent', ['group', SOCKET_GROUP])).stdout;
    expect(socketGroup).toBe(Number(groupLine.split(':')[2]));

    const notHers = await project('sec-nothers'); // 0700, owned by aibox
    const refused = await apiAs<ErrorBody>(daemon, ATTACKER, 'POST', '/v1/sandboxes', {
      path: notHers,
      name: 'nothers',
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('SANDBOX_PATH_ACCESS');
    expect(await mountsOf(daemon)).toEqual([]);

    const hers = await project('sec-hers');
    await execa('chown', ['-R', `${attacker.uid}:${attacker.gid}`, hers]);
    const ok = await apiAs<{ name: string }>(daemon, ATTACKER, 'POST', '/v1/sandboxes', {
      path: hers,
      name: 'hers',
      profile: 'session',
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    const record = JSON.parse(
      await readFile(
        path.join(daemon.stateDir, 'sandboxes', (ok.body as { id?: string }).id ?? '', 'sandbox.json'),
        'utf8',
      ),
    ) as { ownerUid: number };
    expect(record.ownerUid).toBe(attacker.uid);
    expect((await daemon.api('DELETE', '/v1/sandboxes/hers')).status).toBe(200);
  });

  it('keeps the runtime user out of the socket group (scripts/setup-host.sh)', async () => {
    const groups = (await execa('id', ['-nG', 'aibox'])).stdout.split(' ');
    expect(groups).not.toContain(SOCKET_GROUP);
    expect((await execa('id', ['-gn', 'aibox'])).stdout).toBe('aibox');
    const config = await readFile(path.join(ROOT, 'config/aiboxd.yaml'), 'utf8');
    expect(config).toMatch(/^socketGroup: aibox-users$/m);
  });
});
