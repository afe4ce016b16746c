import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AiboxError } from '../../src/shared/errors.js';
import type { DoctorReport } from '../../src/shared/api/system.js';
import { startCannedAnswers, startCliTestDaemon } from './daemon.js';
import type { CliTestDaemon } from './daemon.js';
import { aibox, printedError } from './run-cli.js';

const PASSING_DOCTOR: DoctorReport = {
  ok: true,
  mode: 'rootless',
  modeReason: 'the aibox user has subuids',
  checks: [{ name: 'runsc', layer: 'runtime', ok: true, detail: 'found' }],
};

const FAILING_DOCTOR: DoctorReport = {
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

// The doctor's real checks depend on the host: its rendering is tested on canned reports.
describe('aibox doctor', () => {
  let dir: string;
  let close: (() => Promise<void>) | undefined;
  const answer = async (answers: Parameters<typeof startCannedAnswers>[1]) => {
    const canned = await startCannedAnswers(dir, answers);
    close = () => canned.close();
    return canned.socket;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'aibox-doctor-'));
  });
  afterEach(() => close?.());
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('doctor prints each check with ✓/✗ and the fix, and exits 0 when all pass', async () => {
    const socket = await answer({ 'GET /v1/doctor': [200, PASSING_DOCTOR] });
    const run = await aibox(['doctor'], { socket });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('mode: rootless (the aibox user has subuids)');
    expect(run.stdout).toMatch(/✓ runsc \[runtime\]/);
    expect(run.stdout).toContain('all checks passed');
  });

  it('doctor exits 1 when a check failed and prints its fix; --json gives the report', async () => {
    const socket = await answer({ 'GET /v1/doctor': [200, FAILING_DOCTOR] });
    const run = await aibox(['doctor'], { socket });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ nftables \[egress\]: nft not found\n\s+fix: apt-get install -y nftables/);
    const json = await aibox(['doctor', '--json'], { socket });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(FAILING_DOCTOR);
  });

  it('doctor --sandbox says when the daemon has no egress self-test (API_ROUTE_NOT_FOUND)', async () => {
    const socket = await answer({ 'GET /v1/doctor': [200, PASSING_DOCTOR] });
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
    const socket = await answer({
      'GET /v1/doctor': [200, PASSING_DOCTOR],
      'POST /v1/sandboxes/box/egress/selftest': [
        200,
        {
          ok: false,
          sandbox: 'box',
          proxy: 'http://10.88.0.1:3128',
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
      ],
      'POST /v1/sandboxes/ghost/egress/selftest': [
        404,
        { error: { code: 'SANDBOX_NOT_FOUND', message: 'no sandbox named ghost', hint: 'aibox list' } },
      ],
    });
    const run = await aibox(['doctor', '--sandbox', 'box'], { socket });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/egress self-test in sandbox box:\n\s+✗ CONNECT 1\.1\.1\.1:443/);
    const unknown = await aibox(['doctor', '--sandbox', 'ghost'], { socket });
    expect(unknown.code).toBe(1);
    expect(printedError(unknown.stderr).code).toBe('SANDBOX_NOT_FOUND');
  });
});

describe('aibox setup and update', () => {
  let daemon: CliTestDaemon;
  let socket: string;
  beforeAll(async () => {
    daemon = await startCliTestDaemon();
    socket = daemon.socket;
  });
  afterAll(() => daemon.close());

  it('setup shows progress lines on stderr when not a terminal and the result on stdout; again it is cached', async () => {
    daemon.runtime.imagePresent = false;
    daemon.runtime.imageScript = {
      progress: [
        { phase: 'debootstrap', percent: 10, message: 'fetching packages' },
        { phase: 'debootstrap', percent: 60, message: 'installing' },
        { phase: 'import', percent: 95, message: 'podman import' },
      ],
    };
    const run = await aibox(['setup'], { socket });
    expect(run.code).toBe(0);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      '[debootstrap] 10% fetching packages',
      '[debootstrap] 60% installing',
      '[import] 95% podman import',
    ]);
    expect(run.stdout).toMatch(/^base image localhost\/aibox-base:fake built in \d+\.\d s\n$/);
    daemon.runtime.imageScript = { progress: [] };
    const again = await aibox(['setup', '--json'], { socket });
    expect(JSON.parse(again.stdout)).toMatchObject({ image: 'localhost/aibox-base:fake', cached: true });
    const update = await aibox(['update', '--json'], { socket });
    expect(JSON.parse(update.stdout).cached).toBe(false);
    expect(daemon.runtime.imageBuilds).toEqual([false, false, true]);
    expect(daemon.requests.filter((r) => r.url === '/v1/images/base').map((r) => r.body)).toEqual([
      { force: false },
      { force: false },
      { force: true },
    ]);
  });

  it('setup fails with the build error code and hint when the stream reports an error', async () => {
    daemon.runtime.imageScript = {
      progress: [{ phase: 'debootstrap', percent: 5, message: 'starting' }],
      fail: new AiboxError('RUNTIME_IMAGE_BUILD', 'debootstrap exited 1', {
        status: 500,
        hint: 'apt-get install -y debootstrap',
      }),
    };
    const run = await aibox(['setup', '--json'], { socket });
    daemon.runtime.imageScript = { progress: [] };
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      error: {
        code: 'RUNTIME_IMAGE_BUILD',
        message: 'debootstrap exited 1',
        hint: 'apt-get install -y debootstrap',
      },
    });
    expect(printedError(run.stderr)).toMatchObject({ code: 'RUNTIME_IMAGE_BUILD', hasStack: false });
  });
});
