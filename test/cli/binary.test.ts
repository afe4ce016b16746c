import { spawn, spawnSync } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliTestDaemon } from './daemon.js';
import type { CliTestDaemon } from './daemon.js';
import { BIN, aibox, aiboxProcess, printedError } from './run-cli.js';

// util-linux `script` gives the CLI a real pseudo-terminal (CI installs it; Debian has it by default).
const hasScript = spawnSync('script', ['--version']).status === 0;

// The real binary as a separate process: argv, a piped stdin, process exit codes and stderr as users see them.
describe('the aibox binary', { timeout: 60_000 }, () => {
  let daemon: CliTestDaemon;
  let project: string;

  beforeAll(async () => {
    daemon = await startCliTestDaemon();
    project = await daemon.makeProject();
    expect((await aibox(['start', project, '--name', 'box'], { socket: daemon.socket })).code).toBe(0);
  });
  afterAll(() => daemon.close());

  it("exec -i pipes the process's stdin to the command and exits with its exit code", async () => {
    const run = await aiboxProcess(['exec', '-i', 'box', '--', 'sh', '-c', 'wc -l; echo oops >&2; exit 9'], {
      socket: daemon.socket,
      stdin: 'a\nb\nc\n',
    });
    expect(run).toEqual({ code: 9, stdout: '3\n', stderr: 'oops\n' });
  });

  it('ends quietly with 141 when the reader of its output goes away (`| head`)', async () => {
    const pipeline = `${process.execPath} --import tsx ${BIN} --socket ${daemon.socket} exec box -- yes | head -2; echo "rc=\${PIPESTATUS[0]}"`;
    const child = spawn('bash', ['-c', pipeline], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    expect(stdout).toBe('y\ny\nrc=141\n');
    expect(stderr).toBe('');
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
    const run = await aiboxProcess(['start', '--name'], { socket: daemon.socket });
    expect(run.code).toBe(2);
    expect(printedError(run.stderr)).toMatchObject({ code: 'CLI_USAGE', hasStack: false });
  });

  it('says DAEMON_SOCKET_DENIED (exit 3) when the socket is not writable by the caller', async () => {
    const uid = process.getuid?.();
    const asRoot = uid === 0;
    // As root, permissions do not apply to us: run the CLI as `nobody` against a root-only socket.
    // As a normal user, take the write bit off our own socket.
    const dir = path.dirname(daemon.socket);
    await chmod(dir, 0o755);
    await chmod(daemon.socket, asRoot ? 0o600 : 0o000);
    try {
      const run = await aiboxProcess(['status'], {
        socket: daemon.socket,
        ...(asRoot ? { uid: 65534, gid: 65534, env: { HOME: '/tmp' } } : {}),
      });
      expect(run.code).toBe(3);
      expect(printedError(run.stderr)).toMatchObject({
        code: 'DAEMON_SOCKET_DENIED',
        hint: expect.stringContaining('aibox-users` group'),
        hasStack: false,
      });
    } finally {
      await chmod(daemon.socket, 0o755);
    }
  });

  it.skipIf(!hasScript)(
    'on a terminal: exec -it asks for a tty with the window size and setup draws a progress bar (needs `script`)',
    async () => {
      // Async: the daemon lives in this process and must keep answering.
      const inPty = (args: string) =>
        new Promise<{ status: number | null; stdout: string }>((resolve, reject) => {
          const shell = `stty cols 101 rows 33; ${process.execPath} --import tsx ${BIN} --socket ${daemon.socket} ${args}`;
          const child = spawn('script', ['-qec', shell, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
          let stdout = '';
          child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
          child.on('error', reject);
          child.on('close', (status) => resolve({ status, stdout }));
          child.stdin.end();
        });
      const exec = await inPty("exec -it box -- sh -c 'exit 6'");
      expect(exec.status).toBe(6);
      expect(daemon.execs.at(-1)?.options).toMatchObject({ tty: true, stdin: true, cols: 101, rows: 33 });
      daemon.runtime.imagePresent = false;
      daemon.runtime.imageScript = {
        progress: [
          { phase: 'debootstrap', percent: 10, message: 'fetching packages' },
          { phase: 'import', percent: 95, message: 'podman import' },
        ],
      };
      const setup = await inPty('setup');
      daemon.runtime.imageScript = { progress: [] };
      expect(setup.status).toBe(0);
      // cli-progress redraws the line in place: cursor moves and a bar, not plain lines.
      expect(setup.stdout).toContain(`${String.fromCharCode(27)}[1Gimport `);
      expect(setup.stdout).toContain('95% podman import');
    },
  );
});
