import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDaemon } from '../support/fake-daemon.js';
import { aibox, aiboxProcess, printedError } from './run-cli.js';

// The real binary as a separate process: argv, a piped stdin, process exit codes and stderr as users see them.
describe('the aibox binary', { timeout: 60_000 }, () => {
  let daemon: FakeDaemon;
  let project: string;

  beforeAll(async () => {
    project = await mkdtemp(path.join(os.tmpdir(), 'aibox-bin-project-'));
    daemon = await new FakeDaemon().start();
    expect((await aibox(['start', project, '--name', 'box'], { socket: daemon.socketPath })).code).toBe(0);
  });
  afterAll(async () => {
    await daemon.stop();
    await rm(project, { recursive: true, force: true });
  });

  it("exec -i pipes the process's stdin to the command and exits with its exit code", async () => {
    const run = await aiboxProcess(['exec', '-i', 'box', '--', 'sh', '-c', 'wc -l; echo oops >&2; exit 9'], {
      socket: daemon.socketPath,
      stdin: 'a\nb\nc\n',
    });
    expect(run).toEqual({ code: 9, stdout: '3\n', stderr: 'oops\n' });
  });

  it('exits 3 with the hint when the daemon is not running, without a stack', async () => {
    const run = await aiboxProcess(['--socket', path.join(project, 'absent.sock'), 'list']);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(printedError(run.stderr)).toMatchObject({
      code: 'DAEMON_NOT_RUNNING',
      hint: expect.stringContaining('npm run quickstart'),
      hasStack: false,
    });
  });

  it('exits 2 on a usage error', async () => {
    const run = await aiboxProcess(['start', '--name'], { socket: daemon.socketPath });
    expect(run.code).toBe(2);
    expect(printedError(run.stderr)).toMatchObject({ code: 'CLI_USAGE', hasStack: false });
  });

  it('says DAEMON_SOCKET_DENIED (exit 3) when the socket is not writable by the caller', async () => {
    const uid = process.getuid?.();
    const asRoot = uid === 0;
    // As root, permissions do not apply to us: run the CLI as `nobody` against a root-only socket.
    // As a normal user, take the write bit off our own socket.
    const dir = path.dirname(daemon.socketPath);
    await chmod(dir, 0o755);
    await chmod(daemon.socketPath, asRoot ? 0o600 : 0o000);
    try {
      const run = await aiboxProcess(['status'], {
        socket: daemon.socketPath,
        ...(asRoot ? { uid: 65534, gid: 65534, env: { HOME: '/tmp' } } : {}),
      });
      expect(run.code).toBe(3);
      expect(printedError(run.stderr)).toMatchObject({
        code: 'DAEMON_SOCKET_DENIED',
        hint: expect.stringContaining('aibox` group'),
        hasStack: false,
      });
    } finally {
      await chmod(daemon.socketPath, 0o755);
    }
  });
});
