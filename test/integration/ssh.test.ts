/**
 * End to end with a real aiboxd, a real gVisor sandbox and the real OpenSSH client: keys registered with
 * `aibox ssh-key add`, the gateway on a loopback port, commands/pty/sftp/-L running inside the sandbox as its
 * non-root user, the holes (-R, -A, -L elsewhere) refused, and `aibox ssh-config --write` producing a Host entry
 * that plain `ssh` (and so VS Code / JetBrains) can use.
 */
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { commandExists, requireHost, sandboxHostSupport } from '../support/host.js';
import { SshClientKit, type SshTarget } from '../support/ssh-client.js';

const tools = ['ssh', 'sftp', 'ssh-keygen', 'tmux'].filter((t) => !commandExists(t));
const support = sandboxHostSupport();
const run = requireHost(
  support.ok && tools.length > 0
    ? { ok: false, reason: `missing ${tools.join(', ')} (openssh-client, tmux)` }
    : support,
  'ssh',
);

describe.skipIf(!run)('SSH gateway into a gVisor sandbox', () => {
  let daemon: TestDaemon;
  let project: string;
  let kit: SshClientKit;
  let stranger: SshClientKit;
  let target: SshTarget;
  const name = 'sshbox';

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'ssh', config: { sshGateway: { port: 0 } } });
    const image = await daemon.api('POST', '/v1/images/base', {});
    expect(image.status).toBe(200);
    project = await makeProject('ssh');
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    kit = await SshClientKit.create();
    stranger = await SshClientKit.create('stranger');
    const added = await daemon.cli(['ssh-key', 'add', `${kit.identity}.pub`]);
    expect(added.exitCode, added.stderr).toBe(0);
    const gw = await daemon.api<{ port: number; knownHostsFile: string; hostKeyAlias: string }>(
      'GET',
      '/v1/ssh/gateway',
    );
    expect(gw.status).toBe(200);
    target = {
      port: gw.body.port,
      knownHostsFile: gw.body.knownHostsFile,
      hostKeyAlias: gw.body.hostKeyAlias,
    };
  });

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('lists the registered key by fingerprint', async () => {
    const list = await daemon.cli(['ssh-key', 'list', '--json']);
    expect(JSON.parse(list.stdout).keys).toEqual([
      expect.objectContaining({ type: 'ssh-ed25519', comment: 'id_ed25519@test' }),
    ]);
  });

  it('runs commands inside gVisor as the sandbox user and returns their exit status', async () => {
    const r = await kit.ssh(target, name, ['dmesg | head -1; id -u; pwd']);
    expect(r.exitCode, r.stderr).toBe(0);
    const [first, uid] = r.stdout.split('\n');
    expect(first).toContain('Starting gVisor');
    expect(uid).not.toBe('0');
    expect((await kit.ssh(target, name, ['exit 42'])).exitCode).toBe(42);
    const io = await kit.ssh(target, name, ['tr a-z A-Z'], [], { input: 'piped through\n' });
    expect(io.stdout).toBe('PIPED THROUGH');
  });

  it('runs an interactive shell with a pty under tmux', async () => {
    const session = `aibox-ssh-e2e-${process.pid}`;
    await execa('tmux', [
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '120',
      '-y',
      '30',
      kit.sshCommandLine(target, name, ['-tt']),
    ]);
    try {
      await waitFor(async () => /\$\s*$/m.test(await capture(session)), session);
      await execa('tmux', [
        'send-keys',
        '-t',
        session,
        'stty size; read -p "name? " n; echo "hi $n"',
        'Enter',
      ]);
      // The typed line itself contains "name?": wait for the command's output, not for the echo of the keys.
      await waitFor(async () => (await capture(session)).includes('30 120'), session);
      await waitFor(async () => /^name\?\s*$/m.test(await capture(session)), session);
      await execa('tmux', ['send-keys', '-t', session, 'gvisor', 'Enter']);
      await waitFor(async () => (await capture(session)).includes('hi gvisor'), session);
      await execa('tmux', ['resize-window', '-t', session, '-x', '100', '-y', '25']);
      // The new size reaches the sandbox through the exec agent: ask until it is there.
      await waitFor(async () => {
        await execa('tmux', ['send-keys', '-t', session, 'clear; stty size', 'Enter']);
        await new Promise((r) => setTimeout(r, 700));
        return (await capture(session)).includes('25 100');
      }, session);
      await execa('tmux', ['send-keys', '-t', session, 'sleep 300', 'Enter']);
      await new Promise((r) => setTimeout(r, 500));
      await execa('tmux', ['send-keys', '-t', session, 'C-c', '']);
      await execa('tmux', ['send-keys', '-t', session, 'echo "interrupted $?"', 'Enter']);
      await waitFor(async () => (await capture(session)).includes('interrupted 130'), session);
    } finally {
      await execa('tmux', ['kill-session', '-t', session], { reject: false });
    }
  });

  it('puts and gets files in /workspace with sftp, and they appear on the host', async () => {
    const local = await mkdtemp(path.join(tmpdir(), 'aibox-sftp-'));
    await writeFile(path.join(local, 'up.txt'), 'from the host via sftp\n');
    const r = await kit.sftp(
      target,
      name,
      `put ${local}/up.txt /workspace/up.txt\nget /workspace/README.md ${local}/readme.txt\n`,
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(path.join(project, 'up.txt'), 'utf8')).toBe('from the host via sftp\n');
    expect(await readFile(path.join(local, 'readme.txt'), 'utf8')).toBe('# ssh\n');
    await rm(local, { recursive: true, force: true });
  });

  it('forwards -L to a server listening inside the sandbox', async () => {
    const started = await kit.ssh(target, name, [
      'mkdir -p /tmp/www && echo inside-the-sandbox > /tmp/www/hello.txt && cd /tmp/www && (nohup python3 -m http.server 18765 --bind 127.0.0.1 >/dev/null 2>&1 &) ; sleep 1',
    ]);
    expect(started.exitCode, started.stderr).toBe(0);
    const localPort = await freePort();
    const tunnel = execa(
      'ssh',
      [
        ...kit.options(target, [
          '-N',
          '-o',
          'ExitOnForwardFailure=yes',
          '-L',
          `127.0.0.1:${localPort}:127.0.0.1:18765`,
        ]),
        `${name}@127.0.0.1`,
      ],
      {
        reject: false,
      },
    );
    try {
      const body = await retry(() => httpGet(`http://127.0.0.1:${localPort}/hello.txt`));
      expect(body).toBe('inside-the-sandbox\n');
    } finally {
      tunnel.kill('SIGTERM');
      await tunnel;
    }
  });

  it('refuses -R, -A and -L to any other host', async () => {
    const remote = await kit.ssh(
      target,
      name,
      ['true'],
      ['-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:0:127.0.0.1:22'],
    );
    expect(remote.exitCode).toBe(255);
    expect(remote.stderr).toMatch(/remote port forwarding failed/);
    const agentDir = await mkdtemp(path.join(tmpdir(), 'aibox-agent-'));
    const sock = path.join(agentDir, 'agent.sock');
    const agent = execa('ssh-agent', ['-D', '-a', sock], { reject: false });
    await retry(() =>
      readFile(sock).catch((e: NodeJS.ErrnoException) =>
        e.code === 'ENXIO' || e.code === 'EOPNOTSUPP' ? '' : Promise.reject(e),
      ),
    );
    const a = await kit.ssh(target, name, ['echo "sock=$SSH_AUTH_SOCK"'], ['-A'], {
      env: { SSH_AUTH_SOCK: sock },
    });
    agent.kill('SIGTERM');
    await agent;
    await rm(agentDir, { recursive: true, force: true });
    expect(a.stdout).toBe('sock=');
    expect(a.stderr).toContain('agent forwarding (-A) is refused');
    for (const dest of ['10.0.2.2:22', '192.0.2.1:80', 'example.com:443']) {
      const l = await kit.ssh(target, name, [], ['-W', dest], { input: '' });
      expect(l.exitCode, dest).toBe(255);
      expect(l.stderr).toMatch(/open failed/);
    }
  });

  it('refuses an unknown key and an unknown sandbox', async () => {
    const key = await stranger.ssh(target, name, ['true']);
    expect(key.exitCode).toBe(255);
    expect(key.stderr).toContain('Permission denied');
    const box = await kit.ssh(target, 'no-such-box', ['true']);
    expect(box.exitCode).toBe(255);
    expect(box.stderr).toContain('Permission denied');
  });

  it('listens on loopback only', async () => {
    expect(await connects('127.0.0.1', target.port)).toBe(true);
    expect(await connects('127.0.0.2', target.port)).toBe(false);
    const ss = await execa('ss', ['-Hltn', `sport = :${target.port}`]);
    const locals = ss.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[3]);
    expect(locals).toEqual([`127.0.0.1:${target.port}`]);
  });

  it('writes an ssh config entry that plain ssh uses, idempotently', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-sshcfg-'));
    const file = path.join(dir, 'config');
    await writeFile(file, 'Host *\n  User nobody-else\n');
    for (let i = 0; i < 2; i++) {
      const w = await daemon.cli(['ssh-config', '--write', '--config', file, '--identity', kit.identity]);
      expect(w.exitCode, w.stderr).toBe(0);
    }
    const text = await readFile(file, 'utf8');
    expect(text.match(/Host aibox-sshbox/g)).toHaveLength(1);
    const r = await execa('ssh', ['-F', file, '-o', 'BatchMode=yes', `aibox-${name}`, 'echo via-config'], {
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('via-config');
    await rm(dir, { recursive: true, force: true });
  });

  it('records what arrived over SSH in the daemon log', async () => {
    const log = await daemon.log();
    expect(log).toContain('"action":"ssh.exec"');
    expect(log).toContain('"action":"ssh.forward"');
    expect(log).toMatch(/"action":"ssh.auth","outcome":"refused"/);
  });

  it('drops SSH access when the sandbox stops', async () => {
    const stopped = await daemon.api('POST', `/v1/sandboxes/${name}/stop`);
    expect(stopped.status).toBe(200);
    const r = await kit.ssh(target, name, ['true']);
    expect(r.exitCode).toBe(255);
  });
});

async function capture(session: string): Promise<string> {
  return (await execa('tmux', ['capture-pane', '-p', '-t', session])).stdout;
}

async function waitFor(check: () => Promise<boolean>, session: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  const screen = await capture(session).catch(() => '(tmux session gone)');
  throw new Error(`condition not reached in time; the terminal shows:\n${screen}`);
}

async function retry<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
