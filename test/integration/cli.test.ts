/**
 * The aibox CLI end to end against a real aiboxd and real gVisor sandboxes: the typed client's exec WebSocket
 * (stdin, terminal size), NDJSON image stream and error bodies match what the daemon serves; --json shapes hold;
 * refusals print code and hint with the documented exit codes. (Exit-code and stdout/stderr pass-through of
 * `aibox exec` are also covered by sandbox.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'cli');
// util-linux `script` gives the CLI a real pseudo-terminal for `exec -t`.
const hasScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!run)('aibox CLI against a real aiboxd', () => {
  let daemon: TestDaemon;
  let project: string;
  const name = 'clibox';

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'cli' });
    project = await makeProject('cli');
    const setup = await daemon.cli(['setup', '--json']);
    expect(setup.exitCode, setup.stderr).toBe(0);
    expect(JSON.parse(setup.stdout)).toMatchObject({ image: expect.stringContaining('aibox-base') });
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  it('start --json answers the sandbox report with the protections in force', async () => {
    const started = await daemon.cli(['start', project, '--name', name, '--json']);
    expect(started.exitCode, started.stderr).toBe(0);
    const report = JSON.parse(started.stdout) as { runtime: string; protections: unknown[] };
    expect(report).toMatchObject({ name, state: 'running', path: project });
    expect(report.runtime).toContain('runsc');
    expect(report.protections.length).toBeGreaterThan(0);
    const human = await daemon.cli(['status', name]);
    expect(human.stdout).toContain(`sandbox ${name}`);
    expect(human.stdout).toContain('protections:');
  });

  it('exec -i forwards stdin until EOF, into a file the host sees', async () => {
    const piped = await daemon.cli(
      ['exec', '-i', name, '--', 'sh', '-c', 'cat > /workspace/from-cli.txt; wc -c'],
      {
        input: 'written through the CLI\n',
      },
    );
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(piped.stdout.trim()).toBe('0');
    expect(await readFile(path.join(project, 'from-cli.txt'), 'utf8')).toBe('written through the CLI\n');
  });

  it.skipIf(!hasScript)(
    'exec -it gives the command a terminal of the window size (needs `script`)',
    async () => {
      const bin = path.resolve('src/bin/aibox.ts');
      const cmd = `exec -it ${name} -- sh -c 'stty size; test -t 0 && echo tty-yes; exit 5'`;
      const shell = `stty cols 97 rows 31; ${process.execPath} --import tsx ${bin} --socket ${daemon.socket} ${cmd}`;
      const child = spawn('script', ['-qec', shell, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stdin.end();
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(out).toContain('31 97');
      expect(out).toContain('tty-yes');
      expect(status).toBe(5);
    },
  );

  it('exec --json runs buffered and keeps the exit code', async () => {
    const r = await daemon.cli(['exec', '--json', name, '--', 'sh', '-c', 'echo hi; exit 3']);
    expect(r.exitCode).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ exitCode: 3, stdout: 'hi\n' });
  });

  it("prints the daemon's refusals with code and hint: unknown sandbox, duplicate name (exit 1)", async () => {
    const unknown = await daemon.cli(['exec', 'ghost', '--', 'true']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/^code: SANDBOX_NOT_FOUND$/m);
    expect(unknown.stderr).toMatch(/^hint: /m);
    const dup = await daemon.cli(['start', project, '--name', name]);
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toMatch(/^code: SANDBOX_NAME_TAKEN$/m);
    expect(dup.stderr).not.toMatch(/\n\s+at /);
  });

  it('list, stop, start --name and rm drive the lifecycle; rm leaves the list empty', async () => {
    const list = JSON.parse((await daemon.cli(['list', '--json'])).stdout) as {
      sandboxes: { name: string }[];
    };
    expect(list.sandboxes.map((s) => s.name)).toEqual([name]);
    expect(JSON.parse((await daemon.cli(['stop', name, '--json'])).stdout).state).toBe('stopped');
    const stoppedExec = await daemon.cli(['exec', name, '--', 'true']);
    expect(stoppedExec.exitCode).toBe(1);
    expect(stoppedExec.stderr).toMatch(/^code: SANDBOX_NOT_RUNNING$/m);
    const again = await daemon.cli(['start', '--name', name, '--json']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).state).toBe('running');
    expect((await daemon.cli(['exec', name, '--', 'true'])).exitCode).toBe(0);
    expect(JSON.parse((await daemon.cli(['rm', name, '--json'])).stdout)).toEqual({ removed: name });
    expect(JSON.parse((await daemon.cli(['list', '--json'])).stdout)).toEqual({ sandboxes: [] });
  });

  it('status, doctor and version answer with the documented shapes', async () => {
    const status = JSON.parse((await daemon.cli(['status', '--json'])).stdout);
    expect(status).toMatchObject({ socket: daemon.socket, baseImage: { present: true } });
    const doctor = await daemon.cli(['doctor', '--json']);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: unknown[] };
    expect(doctor.exitCode).toBe(report.ok ? 0 : 1);
    expect(report.checks.length).toBeGreaterThan(0);
    const version = JSON.parse((await daemon.cli(['version', '--json'])).stdout);
    expect(version).toMatchObject({ cli: expect.any(String), daemon: { api: 'v1' } });
  });
});
