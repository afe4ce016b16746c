/**
 * bench/start: how long `aibox start` takes until the first `aibox exec` answers, and the `aibox exec` round trip,
 * each next to the same operation done with raw Podman + runsc in the same run (the baseline).
 * Needs root and a built base image. Usage: npx tsx bench/start.ts [--runs N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { startTestDaemon } from '../test/support/daemon.js';
import { summarize, printTable, timeIt } from './stats.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 7);

const daemon = await startTestDaemon({ name: 'bench-start' });
const project = await mkdtemp(path.join(tmpdir(), 'aibox-bench-'));
try {
  const setup = await daemon.cli(['setup', '--json']);
  if (setup.exitCode !== 0) throw new Error(`aibox setup failed: ${setup.stderr}`);
  const image = (JSON.parse(setup.stdout) as { image: string }).image;
  const podmanEnv = {
    HOME: '/var/lib/aibox-user',
    XDG_RUNTIME_DIR: '/run/aibox/user-' + (await execa('id', ['-u', 'aibox'])).stdout.trim(),
    CONTAINERS_CONF: path.join(daemon.stateDir, 'podman/containers.conf'),
  };
  const podman = (args: string[]) =>
    execa(
      'runuser',
      [
        '-u',
        'aibox',
        '--',
        'env',
        ...Object.entries(podmanEnv).map(([k, v]) => `${k}=${v}`),
        'podman',
        ...args,
      ],
      {
        cwd: '/tmp',
      },
    );

  const startToExec: number[] = [];
  for (let i = 0; i < runs; i++) {
    const name = `bench-${i}`;
    startToExec.push(
      await timeIt(async () => {
        const s = await daemon.cli(['start', project, '--name', name, '--profile', 'session', '--json']);
        if (s.exitCode !== 0) throw new Error(s.stderr);
        const e = await daemon.cli(['exec', name, '--', 'true']);
        if (e.exitCode !== 0) throw new Error(e.stderr);
      }),
    );
    await daemon.cli(['rm', name]);
  }
  const rawRun: number[] = [];
  for (let i = 0; i < runs; i++) {
    rawRun.push(await timeIt(() => podman(['run', '--rm', '--network', 'none', image, 'true'])));
  }

  await daemon.cli(['start', project, '--name', 'bench-exec', '--profile', 'session']);
  const execRoundTrip: number[] = [];
  for (let i = 0; i < runs * 3; i++)
    execRoundTrip.push(await timeIt(() => daemon.cli(['exec', 'bench-exec', '--', 'true'])));
  const apiExec: number[] = [];
  for (let i = 0; i < runs * 3; i++) apiExec.push(await timeIt(() => daemon.exec('bench-exec', ['true'])));
  const container = `aibox-${await sandboxId(daemon, 'bench-exec')}`;
  const rawExec: number[] = [];
  for (let i = 0; i < runs * 3; i++) rawExec.push(await timeIt(() => podman(['exec', container, 'true'])));

  printTable('bench/start (milliseconds)', [
    ['aibox start -> first aibox exec (CLI, session profile)', summarize(startToExec)],
    ['baseline: podman run --rm (runsc) true', summarize(rawRun)],
    ['aibox exec NAME -- true (CLI process + API + exec)', summarize(execRoundTrip)],
    ['POST /v1/sandboxes/NAME/exec true (API only)', summarize(apiExec)],
    ['baseline: podman exec CONTAINER true', summarize(rawExec)],
  ]);
} finally {
  await daemon.stop();
  await rm(project, { recursive: true, force: true });
}

async function sandboxId(d: typeof daemon, name: string): Promise<string> {
  const r = await d.api<{ id: string }>('GET', `/v1/sandboxes/${name}`);
  return r.body.id;
}
