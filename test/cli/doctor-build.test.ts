import { afterEach, describe, expect, it } from 'vitest';
import { FakeDaemon } from '../support/fake-daemon.js';
import type { FakeDaemonOptions } from '../support/fake-daemon.js';
import { aibox, printedError } from './run-cli.js';

const FAILING_DOCTOR: NonNullable<FakeDaemonOptions['doctor']> = {
  ok: false,
  mode: 'rootful',
  modeReason: 'rootless disabled by config (runtime.rootless: false)',
  checks: [
    { name: 'runsc', layer: 'runtime', ok: true, detail: 'found' },
    {
      name: 'nftables',
      layer: 'egress',
      ok: false,
      detail: 'nft not found',
      fix: 'apt-get install -y nftables',
    },
  ],
};

describe('aibox doctor, setup and update', () => {
  let daemon: FakeDaemon | undefined;
  const start = async (options: FakeDaemonOptions = {}) => {
    daemon = await new FakeDaemon(options).start();
    return daemon.socketPath;
  };
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  it('doctor prints each check with ✓/✗ and the fix, and exits 0 when all pass', async () => {
    const socket = await start();
    const run = await aibox(['doctor'], { socket });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('mode: rootless (the aibox user has subuids)');
    expect(run.stdout).toMatch(/✓ runsc \[runtime\]/);
    expect(run.stdout).toContain('all checks passed');
  });

  it('doctor exits 1 when a check failed and prints its fix; --json gives the report', async () => {
    const socket = await start({ doctor: FAILING_DOCTOR });
    const run = await aibox(['doctor'], { socket });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ nftables \[egress\]: nft not found\n\s+fix: apt-get install -y nftables/);
    const json = await aibox(['doctor', '--json'], { socket });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(FAILING_DOCTOR);
  });

  it('doctor --sandbox says when the daemon has no egress self-test (API_ROUTE_NOT_FOUND)', async () => {
    const socket = await start();
    const run = await aibox(['doctor', '--sandbox', 'box'], { socket });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('not available: this aiboxd has no egress self-test (API_ROUTE_NOT_FOUND)');
    const json = JSON.parse((await aibox(['doctor', '--sandbox', 'box', '--json'], { socket })).stdout);
    expect(json.egressSelftest).toEqual({
      available: false,
      reason: expect.stringContaining('API_ROUTE_NOT_FOUND'),
    });
  });

  it('doctor --sandbox runs the egress self-test and fails when it does', async () => {
    const socket = await start({
      egressSelftest: {
        ok: false,
        checks: [
          {
            name: 'CONNECT 1.1.1.1:443',
            layer: 'egress',
            ok: false,
            detail: 'connected',
            fix: 'reload rules',
          },
        ],
      },
    });
    await aibox(['start', '/tmp', '--name', 'box'], { socket });
    const run = await aibox(['doctor', '--sandbox', 'box'], { socket });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/egress self-test in sandbox box:\n\s+✗ CONNECT 1\.1\.1\.1:443/);
    const unknown = await aibox(['doctor', '--sandbox', 'ghost'], { socket });
    expect(unknown.code).toBe(1);
    expect(printedError(unknown.stderr).code).toBe('SANDBOX_NOT_FOUND');
  });

  it('setup shows progress lines on stderr when not a terminal and the result on stdout; again it is cached', async () => {
    const socket = await start();
    const run = await aibox(['setup'], { socket });
    expect(run.code).toBe(0);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      '[debootstrap] 10% fetching packages',
      '[debootstrap] 60% installing',
      '[import] 95% podman import',
    ]);
    expect(run.stdout).toBe('base image localhost/aibox-base:0.1.0 built in 1.5 s\n');
    const again = await aibox(['setup', '--json'], { socket });
    expect(JSON.parse(again.stdout)).toEqual({
      image: 'localhost/aibox-base:0.1.0',
      cached: true,
      seconds: 0,
    });
    const update = await aibox(['update', '--json'], { socket });
    expect(JSON.parse(update.stdout).cached).toBe(false);
    expect(daemon!.requests.filter((r) => r.url === '/v1/images/base').map((r) => r.body)).toEqual([
      { force: false },
      { force: false },
      { force: true },
    ]);
  });

  it('setup fails with the build error code and hint when the stream reports an error', async () => {
    const socket = await start({
      buildEvents: [
        { type: 'progress', phase: 'debootstrap', percent: 5, message: 'starting' },
        {
          type: 'error',
          error: {
            code: 'IMAGE_BUILD_FAILED',
            message: 'debootstrap exited 1',
            hint: 'apt-get install -y debootstrap',
          },
        },
      ],
    });
    const run = await aibox(['setup', '--json'], { socket });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      error: {
        code: 'IMAGE_BUILD_FAILED',
        message: 'debootstrap exited 1',
        hint: 'apt-get install -y debootstrap',
      },
    });
    expect(printedError(run.stderr)).toMatchObject({ code: 'IMAGE_BUILD_FAILED', hasStack: false });
  });
});
