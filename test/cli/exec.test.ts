import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliTestDaemon } from './daemon.js';
import type { CliTestDaemon } from './daemon.js';
import { aibox, printedError } from './run-cli.js';

describe('aibox exec', () => {
  let daemon: CliTestDaemon;
  let project: string;
  let socket: string;

  beforeAll(async () => {
    daemon = await startCliTestDaemon();
    project = await daemon.makeProject();
    socket = daemon.socket;
    expect((await aibox(['start', project, '--name', 'box'], { socket })).code).toBe(0);
  });
  afterAll(() => daemon.close());

  it("passes stdout, stderr and the command's exit code through", async () => {
    const run = await aibox(['exec', 'box', '--', 'sh', '-c', 'echo out; echo err >&2; exit 42'], { socket });
    expect(run).toEqual({ code: 42, stdout: 'out\n', stderr: 'err\n' });
  });

  it('forwards stdin with -i and closes it at EOF', async () => {
    const run = await aibox(['exec', '-i', 'box', '--', 'sh', '-c', 'tr a-z A-Z; echo done'], {
      socket,
      stdin: 'hello sandbox\n',
    });
    expect(run).toEqual({ code: 0, stdout: 'HELLO SANDBOX\ndone\n', stderr: '' });
    expect(daemon.execs.at(-1)?.options).toMatchObject({ stdin: true, tty: false });
  });

  it('does not open stdin without -i', async () => {
    const run = await aibox(['exec', 'box', '--', 'sh', '-c', 'cat; echo after'], {
      socket,
      stdin: 'ignored\n',
    });
    expect(run.stdout).toBe('after\n');
    expect(daemon.execs.at(-1)?.options.stdin).toBe(false);
  });

  it('sends -t, -e and -w in the exec spec', async () => {
    const run = await aibox(
      [
        'exec',
        '-t',
        '-e',
        'GREETING=hi there',
        '-w',
        project,
        'box',
        '--',
        'sh',
        '-c',
        'echo "$GREETING"; pwd',
      ],
      {
        socket,
      },
    );
    expect(run.stdout).toBe(`hi there\n${project}\n`);
    expect(daemon.execs.at(-1)?.options).toMatchObject({
      tty: true,
      env: { GREETING: 'hi there' },
      workdir: project,
    });
  });

  it('sends env values and flags in the first WebSocket message, never in the URL', async () => {
    const secret = 'sk-ant-never-in-a-url-0123456789';
    const run = await aibox(['exec', '-e', `TOKEN=${secret}`, 'box', '--', 'sh', '-c', 'echo "${#TOKEN}"'], {
      socket,
    });
    expect(run.stdout).toBe(`${secret.length}\n`);
    expect(daemon.execs.at(-1)?.options.env).toMatchObject({ TOKEN: secret });
    const upgrade = daemon.requests.at(-1);
    expect(upgrade).toEqual({ method: 'GET', url: '/v1/sandboxes/box/exec/ws', body: undefined });
  });

  it('refuses env names that could smuggle another variable, naming the key but not the value', async () => {
    for (const pair of ['=x', 'A\nB=hunter22secret', 'A B=hunter22secret']) {
      const run = await aibox(['exec', '-e', pair, 'box', '--', 'true'], { socket });
      expect(run.code).not.toBe(0);
      expect(printedError(run.stderr).code).toBe('CLI_INVALID_ENV');
      expect(run.stderr).not.toContain('hunter22secret');
    }
  });

  it('exits 127 when the command does not exist, like a shell', async () => {
    expect((await aibox(['exec', 'box', '--', 'no-such-command-xyz'], { socket })).code).toBe(127);
  });

  it('--json runs buffered and prints the ExecResult, still exiting with its code', async () => {
    const run = await aibox(['exec', '--json', 'box', '--', 'sh', '-c', 'echo o; echo e >&2; exit 5'], {
      socket,
    });
    expect(run.code).toBe(5);
    expect(JSON.parse(run.stdout)).toEqual({ exitCode: 5, stdout: 'o\n', stderr: 'e\n', truncated: false });
    const refused = await aibox(['exec', '--json', '-i', 'box', '--', 'true'], { socket });
    expect(refused.code).toBe(2);
  });

  it('reports an unknown or stopped sandbox with code and hint (exit 1)', async () => {
    const unknown = await aibox(['exec', 'ghost', '--', 'true'], { socket });
    expect(unknown.code).toBe(1);
    expect(printedError(unknown.stderr)).toMatchObject({ code: 'SANDBOX_NOT_FOUND', hasStack: false });
    const stop = await aibox(['stop', 'box'], { socket });
    expect(stop.code, stop.stderr).toBe(0);
    const stopped = await aibox(['exec', 'box', '--', 'true'], { socket });
    expect(stopped.code, `${stopped.stdout}${stopped.stderr}`).toBe(1);
    await aibox(['start', '--name', 'box'], { socket });
    expect(stopped.code).toBe(1);
    expect(printedError(stopped.stderr)).toMatchObject({
      code: 'SANDBOX_NOT_RUNNING',
      hint: expect.stringContaining('aibox start'),
    });
  });

  it('rejects a malformed -e with a usage error', async () => {
    const run = await aibox(['exec', '-e', 'NOEQUALS', 'box', '--', 'true'], { socket });
    expect(run.code).toBe(2);
    expect(printedError(run.stderr).code).toBe('CLI_INVALID_ENV');
  });
});
