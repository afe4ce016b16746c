import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { startCliTestDaemon } from './daemon.js';
import type { CliTestDaemon } from './daemon.js';
import { aibox, printedError } from './run-cli.js';

describe('aibox commands against aiboxd (its composition root over a fake runtime)', () => {
  let daemon: CliTestDaemon;
  let project: string;
  let socket: string;

  beforeEach(async () => {
    daemon = await startCliTestDaemon();
    socket = daemon.socket;
    project = await daemon.makeProject();
    return () => daemon.close();
  });

  it('start --json prints exactly one JSON object: the sandbox report', async () => {
    const run = await aibox(['start', project, '--name', 'demo', '--json'], { socket });
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ name: 'demo', state: 'running', path: project, profile: 'default' });
    expect(daemon.requests.at(-1)).toEqual({
      method: 'POST',
      url: '/v1/sandboxes',
      body: { path: project, name: 'demo' },
    });
  });

  it('start resolves a relative PATH against the working directory and defaults to it', async () => {
    const parent = path.dirname(project);
    const run = await aibox(['start', path.basename(project), '--name', 'rel', '--profile', 'session'], {
      socket,
      cwd: parent,
    });
    expect(run.code).toBe(0);
    expect(daemon.requests.at(-1)?.body).toEqual({ path: project, name: 'rel', profile: 'session' });
    const here = await aibox(['start', '--json'], { socket, cwd: project });
    expect(JSON.parse(here.stdout).path).toBe(project);
  });

  it('start prints the protections summary for people', async () => {
    const run = await aibox(['start', project, '--name', 'human'], { socket });
    expect(run.code).toBe(0);
    // The protections as the daemon reports them, one line each.
    for (const layer of ['runtime', 'user', 'filesystem', 'capabilities', 'seccomp', 'limits', 'network'])
      expect(run.stdout).toMatch(new RegExp(`✓ ${layer}\\s`));
    expect(run.stdout).toContain('aibox exec human -- bash');
  });

  it('start --name NAME alone starts a stopped sandbox again', async () => {
    await aibox(['start', project, '--name', 'again'], { socket });
    await aibox(['stop', 'again'], { socket });
    const run = await aibox(['start', '--name', 'again', '--json'], { socket });
    expect(JSON.parse(run.stdout).state).toBe('running');
    expect(daemon.requests.map((r) => `${r.method} ${r.url}`)).toContain('POST /v1/sandboxes/again/start');
  });

  it('refuses a PATH that does not exist or is a file before asking the daemon (exit 2)', async () => {
    const missing = await aibox(['start', path.join(project, 'nope')], { socket });
    expect(missing.code).toBe(2);
    expect(printedError(missing.stderr)).toMatchObject({ code: 'CLI_PATH_NOT_FOUND', hasStack: false });
    const file = path.join(project, 'file.txt');
    await writeFile(file, 'x');
    const notDir = await aibox(['start', file], { socket });
    expect(notDir.code).toBe(2);
    expect(printedError(notDir.stderr).code).toBe('CLI_PATH_NOT_DIRECTORY');
    expect(daemon.requests).toEqual([]);
  });

  it('refuses an invalid sandbox name on every command before asking the daemon (exit 2)', async () => {
    for (const argv of [
      ['start', project, '--name', 'Has Spaces'],
      ['stop', '-bad'],
      ['rm', '../etc'],
      ['status', 'UPPER'],
      ['logs', 'a/b'],
      ['exec', 'x'.repeat(64), '--', 'true'],
    ]) {
      const run = await aibox(argv, { socket });
      expect(run.code, argv.join(' ')).toBe(2);
      const printed = printedError(run.stderr);
      expect(printed.code, argv.join(' ')).toMatch(/^CLI_(INVALID_NAME|USAGE)$/);
      expect(printed.hint).toBeTruthy();
    }
    expect(daemon.requests).toEqual([]);
  });

  it('prints a daemon refusal as error/hint/code on stderr and exits 1', async () => {
    await aibox(['start', project, '--name', 'dup'], { socket });
    const run = await aibox(['start', project, '--name', 'dup'], { socket });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(printedError(run.stderr)).toEqual({
      message: expect.stringContaining('dup'),
      hint: 'Choose another --name, or remove the old one with `aibox rm NAME`.',
      code: 'SANDBOX_NAME_TAKEN',
      hasStack: false,
    });
  });

  it('with --json a refusal is also the one JSON object on stdout', async () => {
    const run = await aibox(['--json', 'stop', 'ghost'], { socket });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      error: {
        code: 'SANDBOX_NOT_FOUND',
        message: expect.stringContaining('ghost'),
        hint: 'List sandboxes with `aibox list`.',
      },
    });
  });

  it('list prints a table, or {sandboxes: [...]} with --json', async () => {
    await aibox(['start', project, '--name', 'one'], { socket });
    await aibox(['start', project, '--name', 'two'], { socket });
    const table = await aibox(['list'], { socket });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+PROFILE\s+RUNTIME\s+CREATED\s+PATH$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['one', 'two']);
    const json = JSON.parse((await aibox(['ls', '--json'], { socket })).stdout) as {
      sandboxes: { name: string }[];
    };
    expect(json.sandboxes.map((s) => s.name)).toEqual(['one', 'two']);
  });

  it('status shows the daemon, status NAME the sandbox and its protections', async () => {
    const daemonStatus = await aibox(['status', '--json'], { socket });
    expect(JSON.parse(daemonStatus.stdout)).toMatchObject({
      version: 'test',
      pid: process.pid,
      socket: daemon.daemon.socket,
    });
    daemon.daemon.runtime.imagePresent = false;
    const human = await aibox(['status'], { socket });
    expect(human.stdout).toContain('missing: run `aibox setup`');
    daemon.daemon.runtime.imagePresent = true;
    await aibox(['start', project, '--name', 'st'], { socket });
    const sb = await aibox(['status', 'st'], { socket });
    expect(sb.stdout).toContain('sandbox st');
    expect(sb.stdout).toMatch(/✓ runtime\s+gVisor \(runsc\)/);
    expect(sb.stdout).toContain(`workspace  ${project} -> /workspace`);
  });

  it('stop, rm and logs print their results; --json gives the documented objects', async () => {
    await aibox(['start', project, '--name', 'life'], { socket });
    expect(JSON.parse((await aibox(['stop', 'life', '--json'], { socket })).stdout).state).toBe('stopped');
    expect((await aibox(['logs', 'life'], { socket })).stdout).toBe('log of life\nsecond line\n');
    expect(JSON.parse((await aibox(['logs', 'life', '--json'], { socket })).stdout)).toEqual({
      name: 'life',
      logs: 'log of life\nsecond line\n',
    });
    expect(JSON.parse((await aibox(['rm', 'life', '--json'], { socket })).stdout)).toEqual({
      removed: 'life',
    });
    expect((await aibox(['rm', 'life'], { socket })).code).toBe(1);
  });

  it('version prints both versions; --json {cli, daemon}', async () => {
    const run = await aibox(['version', '--json'], { socket });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ cli: '0.1.0', daemon: { version: 'test', api: 'v1' } });
  });

  it('--socket overrides AIBOX_SOCKET', async () => {
    const run = await aibox(['--socket', socket, 'version', '--json'], {
      env: { AIBOX_SOCKET: path.join(project, 'wrong.sock') },
    });
    expect(JSON.parse(run.stdout).daemon).not.toBeNull();
  });

  it('usage errors exit 2 with a hint and a code, never a stack', async () => {
    for (const argv of [['frobnicate'], ['stop'], ['list', '--bogus'], ['exec', 'box']]) {
      const run = await aibox(argv, { socket });
      expect(run.code, argv.join(' ')).toBe(2);
      expect(printedError(run.stderr)).toMatchObject({ code: 'CLI_USAGE', hasStack: false });
    }
    expect((await aibox([], { socket })).code).toBe(2);
    expect((await aibox(['--help'], { socket })).code).toBe(0);
  });
});

describe('aibox when the daemon is not running', () => {
  it('exits 3 with the DAEMON_NOT_RUNNING hint; version still exits 0 with daemon: null', async () => {
    const socket = path.join(os.tmpdir(), `aibox-no-daemon-${process.pid}.sock`);
    for (const argv of [['list'], ['status'], ['doctor'], ['setup'], ['exec', 'box', '--', 'true']]) {
      const run = await aibox(argv, { socket });
      expect(run.code, argv.join(' ')).toBe(3);
      expect(printedError(run.stderr)).toMatchObject({
        code: 'DAEMON_NOT_RUNNING',
        hint: expect.stringContaining('start it with `aiboxd`'),
        hasStack: false,
      });
    }
    const version = await aibox(['version', '--json'], { socket });
    expect(version.code).toBe(0);
    expect(JSON.parse(version.stdout)).toEqual({ cli: '0.1.0', daemon: null });
    const human = await aibox(['version'], { socket });
    expect(human.stdout).toContain('aiboxd  not reachable: aiboxd is not running');
  });
});
