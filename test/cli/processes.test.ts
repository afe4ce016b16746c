import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliTestDaemon } from './daemon.js';
import type { CliTestDaemon } from './daemon.js';
import { aibox, printedError } from './run-cli.js';

describe('aibox ps, aibox kill, aibox exec --timeout', () => {
  let daemon: CliTestDaemon;
  let socket: string;

  beforeAll(async () => {
    daemon = await startCliTestDaemon();
    const project = await daemon.makeProject();
    socket = daemon.socket;
    expect((await aibox(['start', project, '--name', 'box'], { socket })).code).toBe(0);
  });
  afterAll(() => daemon.close());

  it('lists a running command and kills it with the signal given', async () => {
    const session = await daemon.daemon.services.sandboxes.exec('box', { cmd: ['sleep', '30'] });
    const ps = await aibox(['ps', 'box'], { socket });
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout.split('\n')[0]).toMatch(/^PID\s+PPID\s+UID\s+STATE\s+COMMAND$/);
    expect(ps.stdout).toMatch(new RegExp(`^${session.pid}\\s+.*sleep 30$`, 'm'));
    const json = await aibox(['ps', 'box', '--json'], { socket });
    expect(JSON.parse(json.stdout).processes).toContainEqual(expect.objectContaining({ pid: session.pid }));

    const killed = await aibox(['kill', 'box', String(session.pid), '--signal', 'KILL'], { socket });
    expect(killed).toEqual({ code: 0, stdout: `sent KILL to process ${session.pid} in box\n`, stderr: '' });
    expect(await session.exit).toBe(137);
    expect(daemon.requests.at(-1)).toMatchObject({
      method: 'DELETE',
      url: `/v1/sandboxes/box/processes/${session.pid}?signal=KILL`,
    });
  });

  it('shows the daemon’s refusal of a root process and refuses a pid that is not a number without asking', async () => {
    const root = await aibox(['kill', 'box', '1'], { socket });
    expect(root.code).not.toBe(0);
    expect(printedError(root.stderr).code).toBe('SANDBOX_PROCESS_PROTECTED');
    const before = daemon.requests.length;
    const bad = await aibox(['kill', 'box', '12x'], { socket });
    expect(printedError(bad.stderr).code).toBe('CLI_USAGE');
    expect(daemon.requests.length).toBe(before);
  });

  it('sends --timeout as timeoutSeconds; the timed-out command leaves with 137', async () => {
    const run = await aibox(['exec', '--timeout', '0.3', 'box', '--', 'sleep', '10'], { socket });
    expect(run.code).toBe(137);
    expect(daemon.execs.at(-1)?.options).toMatchObject({ timeoutMs: 300 });
    const json = await aibox(['exec', '--json', '--timeout', '0.3', 'box', '--', 'sleep', '10'], { socket });
    expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: 137, timedOut: true });
    const bad = await aibox(['exec', '--timeout', 'soon', 'box', '--', 'true'], { socket });
    expect(printedError(bad.stderr).code).toBe('CLI_USAGE');
  });
});
