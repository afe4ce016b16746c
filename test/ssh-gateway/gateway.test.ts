import { execa } from 'execa';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SshGateway,
  SshGatewayConfig,
  type CommandPolicy,
  type SshAuditEvent,
} from '../../src/ssh-gateway/index.js';
import type { Logger } from '../../src/shared/index.js';
import { LocalProcessExecutor } from '../support/ssh-local-executor.js';
import { SshClientKit, type SshTarget } from '../support/ssh-client.js';

// Real OpenSSH client against the real gateway on loopback; commands run as local processes of `nobody`
// (test/support/ssh-local-executor.ts). The same behaviours inside gVisor: test/integration/ssh.test.ts.

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};

const hasTools = await Promise.all(
  ['ssh', 'sftp', 'ssh-keygen', 'tmux', '/usr/bin/python3', '/usr/lib/openssh/sftp-server'].map((t) =>
    execa('sh', ['-c', `command -v ${t}`], { reject: false }).then((r) => r.exitCode === 0),
  ),
).then((all) => all.every(Boolean));

describe.skipIf(!hasTools)(
  'ssh gateway with the OpenSSH client (needs openssh-client, openssh-sftp-server, tmux, python3)',
  () => {
    let stateDir: string;
    let workdir: string;
    let gateway: SshGateway;
    let target: SshTarget;
    let kit: SshClientKit;
    let stranger: SshClientKit;
    let executor: LocalProcessExecutor;
    const audit: SshAuditEvent[] = [];
    let decide: CommandPolicy = () => Promise.resolve({ allow: true });
    let echoServer: Server;
    let echoPort: number;

    beforeAll(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'aibox-ssh-state-'));
      workdir = await mkdtemp(join(tmpdir(), 'aibox-ssh-work-'));
      await chmod(workdir, 0o777);
      executor = new LocalProcessExecutor({ sandboxes: { demo: 'sbx_000000000001' }, workdir });
      gateway = new SshGateway({
        config: SshGatewayConfig.parse({ port: 0 }),
        stateDir,
        executor,
        audit: { record: (e) => audit.push(e) },
        logger: silent,
        clock: { now: () => Date.parse('2026-01-01T00:00:00Z') },
        policy: (req) => decide(req),
      });
      const info = await gateway.start();
      target = { port: info.port, knownHostsFile: info.knownHostsFile, hostKeyAlias: info.hostKeyAlias };
      kit = await SshClientKit.create();
      stranger = await SshClientKit.create('stranger');
      await gateway.keys.add(await kit.publicKey());
      echoServer = createServer((s) => s.pipe(s));
      await new Promise<void>((r) => echoServer.listen(0, '127.0.0.1', r));
      echoPort = (echoServer.address() as { port: number }).port;
    });

    afterAll(async () => {
      executor?.killAll();
      await gateway?.stop();
      echoServer?.close();
      await rm(stateDir, { recursive: true, force: true });
      await rm(workdir, { recursive: true, force: true });
    });

    it('runs a command as the unprivileged user and returns its output and exit status', async () => {
      const ok = await kit.ssh(target, 'demo', ['id -u; echo out; echo err >&2']);
      expect(ok.exitCode).toBe(0);
      expect(ok.stdout).toBe('65534\nout');
      expect(ok.stderr).toContain('err');
      const failed = await kit.ssh(target, 'demo', ['exit 42']);
      expect(failed.exitCode).toBe(42);
    });

    it('keeps the host key across restarts, 0600, and verifies it strictly', async () => {
      const keyFile = join(stateDir, 'ssh_host_ed25519_key');
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      const before = await readFile(keyFile, 'utf8');
      const known = await readFile(target.knownHostsFile, 'utf8');
      expect(known).toMatch(/^aibox-gateway ssh-ed25519 AAAA/);
      const again = new SshGateway({
        config: SshGatewayConfig.parse({ port: 0 }),
        stateDir,
        executor,
        audit: { record: () => undefined },
        logger: silent,
        clock: { now: () => 0 },
        policy: () => Promise.resolve({ allow: true }),
      });
      const info = await again.start();
      await again.stop();
      expect(await readFile(keyFile, 'utf8')).toBe(before);
      expect(info.hostKeyFingerprint).toBe(gateway.info().hostKeyFingerprint);
    });

    it('refuses an unknown key and an unknown sandbox', async () => {
      const unknownKey = await stranger.ssh(target, 'demo', ['true']);
      expect(unknownKey.exitCode).toBe(255);
      expect(unknownKey.stderr).toContain('Permission denied (publickey)');
      const unknownSandbox = await kit.ssh(target, 'nosuch', ['true']);
      expect(unknownSandbox.exitCode).toBe(255);
      expect(unknownSandbox.stderr).toContain('Permission denied (publickey)');
      expect(audit).toContainEqual(
        expect.objectContaining({ action: 'ssh.auth', outcome: 'refused', sandbox: 'nosuch' }),
      );
    });

    it('passes only safe environment variables', async () => {
      const r = await kit.ssh(
        target,
        'demo',
        ['echo "$LC_FOO|$LD_PRELOAD|$BASH_ENV"'],
        ['-o', 'SetEnv=LC_FOO=yes LD_PRELOAD=/tmp/evil.so BASH_ENV=/tmp/evil'],
      );
      expect(r.stdout).toBe('yes||');
    });

    it('refuses remote forwarding, agent forwarding and X11 with a reason', async () => {
      const remote = await kit.ssh(
        target,
        'demo',
        ['true'],
        ['-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:0:127.0.0.1:22'],
      );
      expect(remote.exitCode).toBe(255);
      expect(remote.stderr).toMatch(/remote port forwarding failed/);
      const agentSock = join(stateDir, 'agent.sock');
      const agentProc = execa('ssh-agent', ['-D', '-a', agentSock], { reject: false });
      await retry(() => stat(agentSock));
      const agent = await kit.ssh(target, 'demo', ['echo "sock=$SSH_AUTH_SOCK"'], ['-A'], {
        env: { SSH_AUTH_SOCK: agentSock },
      });
      agentProc.kill('SIGTERM');
      await agentProc;
      expect(agent.exitCode).toBe(0);
      expect(agent.stdout).toBe('sock=');
      expect(agent.stderr).toContain('agent forwarding (-A) is refused');
      const x11 = await kit.ssh(
        target,
        'demo',
        ['echo "display=$DISPLAY"'],
        ['-X', '-o', 'XAuthLocation=/nonexistent'],
        {
          env: { DISPLAY: ':99' },
        },
      );
      expect(x11.stdout).toBe('display=');
      expect(x11.stderr).toContain('X11 forwarding is refused');
      expect(audit).toContainEqual(
        expect.objectContaining({
          action: 'ssh.request',
          outcome: 'refused',
          detail: { request: 'tcpip-forward' },
        }),
      );
    });

    it('forwards -L only to ports on the sandbox localhost', async () => {
      const viaW = await kit.ssh(target, 'demo', [], ['-W', `127.0.0.1:${echoPort}`], { input: 'ping\n' });
      expect(viaW.exitCode).toBe(0);
      expect(viaW.stdout).toBe('ping');
      const localPort = await freePort();
      const tunnel = execa(
        'ssh',
        [
          ...kit.options(target, [
            '-N',
            '-o',
            'ExitOnForwardFailure=yes',
            '-L',
            `127.0.0.1:${localPort}:localhost:${echoPort}`,
          ]),
          'demo@127.0.0.1',
        ],
        { reject: false },
      );
      try {
        const reply = await retry(() => roundTrip(localPort, 'through the tunnel\n'));
        expect(reply).toBe('through the tunnel\n');
      } finally {
        tunnel.kill('SIGTERM');
        await tunnel;
      }
      const other = await kit.ssh(target, 'demo', [], ['-W', `10.1.2.3:${echoPort}`], { input: 'ping\n' });
      expect(other.exitCode).toBe(255);
      expect(other.stderr).toMatch(/open failed/);
      const closed = await kit.ssh(target, 'demo', [], ['-W', `127.0.0.1:${await freePort()}`], {
        input: 'ping\n',
      });
      expect(closed.exitCode).toBe(255);
      expect(audit).toContainEqual(
        expect.objectContaining({
          action: 'ssh.forward',
          outcome: 'refused',
          detail: { target: `10.1.2.3:${echoPort}` },
        }),
      );
    });

    it('moves files with sftp', async () => {
      const src = join(workdir, '..', `sftp-src-${process.pid}`);
      await writeFile(src, 'hello sftp\n');
      const r = await kit.sftp(
        target,
        'demo',
        `put ${src} ${workdir}/up.txt\nget ${workdir}/up.txt ${src}.back\n`,
      );
      expect(r.exitCode).toBe(0);
      expect(await readFile(join(workdir, 'up.txt'), 'utf8')).toBe('hello sftp\n');
      expect(await readFile(`${src}.back`, 'utf8')).toBe('hello sftp\n');
      await rm(src, { force: true });
      await rm(`${src}.back`, { force: true });
    });

    it('asks the command policy and reports its refusal', async () => {
      decide = (req) =>
        Promise.resolve(
          req.command?.includes('forbidden')
            ? { allow: false, reason: 'no forbidden things', rule: 'test.rule' }
            : { allow: true },
        );
      const r = await kit.ssh(target, 'demo', ['echo forbidden']);
      decide = () => Promise.resolve({ allow: true });
      expect(r.exitCode).toBe(126);
      expect(r.stderr).toContain('refused by policy (test.rule): no forbidden things');
      expect(audit).toContainEqual(
        expect.objectContaining({ action: 'ssh.exec', outcome: 'refused', reason: 'no forbidden things' }),
      );
    });

    it('runs an interactive shell with a pty under tmux, with window changes', async () => {
      const session = `aibox-ssh-test-${process.pid}`;
      await execa('tmux', [
        'new-session',
        '-d',
        '-s',
        session,
        '-x',
        '100',
        '-y',
        '30',
        kit.sshCommandLine(target, 'demo', ['-tt']),
      ]);
      try {
        await waitFor(async () => (await capture(session)).includes('$'));
        await execa('tmux', ['send-keys', '-t', session, 'stty size; tty; echo "term=$TERM"', 'Enter']);
        // The three lines arrive one by one: wait for the last before reading them all.
        await waitFor(async () => /^term=\S+/m.test(await capture(session)));
        const screen = await capture(session);
        expect(screen).toMatch(/30 100/);
        expect(screen).toMatch(/\/dev\/pts\/\d+\s+term=(tmux|screen)/);
        await execa('tmux', ['resize-window', '-t', session, '-x', '90', '-y', '25']);
        await execa('tmux', ['send-keys', '-t', session, 'clear; stty size', 'Enter']);
        await waitFor(async () => /25 90/.test(await capture(session)));
        await execa('tmux', ['send-keys', '-t', session, 'read -p "name? " n; echo "hi $n"', 'Enter']);
        await waitFor(async () => (await capture(session)).includes('name?'));
        await execa('tmux', ['send-keys', '-t', session, 'aibox', 'Enter']);
        await waitFor(async () => (await capture(session)).includes('hi aibox'));
        await execa('tmux', ['send-keys', '-t', session, 'sleep 600', 'Enter']);
        await execa('tmux', ['send-keys', '-t', session, 'C-c', '']);
        await execa('tmux', ['send-keys', '-t', session, 'echo "after $?"', 'Enter']);
        await waitFor(async () => (await capture(session)).includes('after 130'));
      } finally {
        await execa('tmux', ['kill-session', '-t', session], { reject: false });
      }
    });

    it('is bound to loopback only', async () => {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.2', port: target.port });
        s.on('connect', () => {
          s.destroy();
          resolve(false);
        });
        s.on('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    });
  },
);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.end(text));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

async function retry<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

async function capture(session: string): Promise<string> {
  return (await execa('tmux', ['capture-pane', '-p', '-t', session])).stdout;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not reached in time');
}
