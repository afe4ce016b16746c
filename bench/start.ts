/**
 * bench/start: create → first exec of a sandbox (session profile, egress on), cold and — when the daemon keeps a warm
 * pool — claimed from the pool, each next to the raw `podman run --rm` (runsc) of the same image in the same run
 * (interleaved with the cold starts, so both see the same machine load). Prints where a cold start spends its time,
 * step by step, from the daemon's debug log ("start step" / "egress step" lines), and the exec round trips.
 * Needs root and a built base image (starts real gVisor sandboxes: run it alone, through flock).
 * Usage: npx tsx bench/start.ts [--runs N] [--pool N] [--no-folder] [--cli] [--built]
 *   --pool N  also measure claims from a warm pool of N session sandboxes (refill waited for between claims)
 *   --no-folder  also cold starts without a host folder (tmpfs workspace, the sessions' case)
 *   --cli     also time `aibox start` + `aibox exec` through the CLI processes
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeProject, startTestDaemon, type TestDaemon } from '../test/support/daemon.js';
import { summarize, printTable, timeIt, type Summary } from './stats.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = flag('--runs', 9);
const poolSize = flag('--pool', 0);
const withCli = process.argv.includes('--cli');
const noFolder = process.argv.includes('--no-folder');

const daemon = await startTestDaemon({
  name: 'bench-start',
  built: process.argv.includes('--built'),
  config: {
    log: { level: 'debug' },
    ...(poolSize > 0 ? { pool: { profiles: { session: { size: poolSize, maxAgeSeconds: 3600 } } } } : {}),
  },
});
const project = await makeProject('bench-start');
try {
  const setup = await daemon.cli(['setup', '--json']);
  if (setup.exitCode !== 0) throw new Error(`aibox setup failed: ${setup.stderr}`);
  const image = (JSON.parse(setup.stdout) as { image: string }).image;
  const podman = podmanAs(daemon);

  const api = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const a = await daemon.api<T>(method, route, body);
    if (a.status >= 300) throw new Error(`${method} ${route}: ${a.status} ${JSON.stringify(a.body)}`);
    return a.body;
  };
  const firstExec = async (name: string) => {
    const r = await daemon.exec(name, ['true']);
    if (r.exitCode !== 0) throw new Error(`first exec in ${name}: exit ${r.exitCode} ${r.stderr}`);
  };

  // Warm-up (image and runtime caches), not counted.
  await podman(['run', '--rm', '--network', 'none', image, 'true']);
  await api('POST', '/v1/sandboxes', { path: project, name: 'bench-warmup', profile: 'session' });
  await api('DELETE', '/v1/sandboxes/bench-warmup');

  const cold: number[] = [];
  const coldCreate: number[] = [];
  const raw: number[] = [];
  const remove: number[] = [];
  const coldNames: string[] = [];
  for (let i = 0; i < runs; i++) {
    raw.push(await timeIt(() => podman(['run', '--rm', '--network', 'none', image, 'true'])));
    const name = `bench-cold-${i}`;
    coldNames.push(name);
    let created = 0;
    cold.push(
      await timeIt(async () => {
        created = await timeIt(() =>
          api('POST', '/v1/sandboxes', { path: project, name, profile: 'session' }),
        );
        await firstExec(name);
      }),
    );
    coldCreate.push(created);
    remove.push(await timeIt(() => api('DELETE', `/v1/sandboxes/${name}`)));
  }

  // Workspace-less (the sessions' case): a name is given, so it never comes from the pool.
  const coldEphemeral: number[] = [];
  const noFolderNames: string[] = [];
  const rawE: number[] = [];
  for (let i = 0; i < (noFolder ? runs : 0); i++) {
    rawE.push(await timeIt(() => podman(['run', '--rm', '--network', 'none', image, 'true'])));
    const name = `bench-nofolder-${i}`;
    noFolderNames.push(name);
    coldEphemeral.push(
      await timeIt(async () => {
        await api('POST', '/v1/sandboxes', { name, profile: 'session' });
        await firstExec(name);
      }),
    );
    await api('DELETE', `/v1/sandboxes/${name}`);
  }

  const rows: [string, Summary][] = [
    ['cold: POST /v1/sandboxes -> first exec `true` (session, egress on)', summarize(cold)],
    ['  of which POST /v1/sandboxes (create until running)', summarize(coldCreate)],
    ['baseline: podman run --rm (runsc) true, same run', summarize(raw)],
    ['DELETE /v1/sandboxes/NAME (after the cold start)', summarize(remove)],
  ];
  if (noFolder)
    rows.push(
      ['cold, no host folder (tmpfs workspace) -> first exec `true`', summarize(coldEphemeral)],
      ['baseline: podman run --rm (runsc) true, same run', summarize(rawE)],
    );

  if (poolSize > 0) {
    const pooled: number[] = [];
    const claimOnly: number[] = [];
    for (let i = 0; i < runs; i++) {
      await waitPoolReady(daemon, poolSize);
      let claimed = '';
      let claim = 0;
      pooled.push(
        await timeIt(async () => {
          claim = await timeIt(async () => {
            claimed = (await api<{ name: string }>('POST', '/v1/sandboxes', { profile: 'session' })).name;
          });
          await firstExec(claimed);
        }),
      );
      claimOnly.push(claim);
      await api('DELETE', `/v1/sandboxes/${claimed}`);
    }
    rows.push(
      ['warm pool: POST /v1/sandboxes (no path) -> first exec `true`', summarize(pooled)],
      ['  of which the claim (POST /v1/sandboxes)', summarize(claimOnly)],
    );
  }

  if (withCli) {
    const cli: number[] = [];
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
      const name = `bench-cli-${i}`;
      cli.push(
        await timeIt(async () => {
          const s = await daemon.cli(['start', project, '--name', name, '--profile', 'session', '--json']);
          if (s.exitCode !== 0) throw new Error(s.stderr);
          const e = await daemon.cli(['exec', name, '--', 'true']);
          if (e.exitCode !== 0) throw new Error(e.stderr);
        }),
      );
      await daemon.cli(['rm', name]);
    }
    rows.push(['aibox start -> first aibox exec (two CLI processes)', summarize(cli)]);
  }

  await api('POST', '/v1/sandboxes', { path: project, name: 'bench-exec', profile: 'session' });
  const apiExec: number[] = [];
  for (let i = 0; i < runs * 3; i++) apiExec.push(await timeIt(() => firstExec('bench-exec')));
  const container = `aibox-${(await api<{ id: string }>('GET', '/v1/sandboxes/bench-exec')).id}`;
  const rawExec: number[] = [];
  for (let i = 0; i < runs * 3; i++) rawExec.push(await timeIt(() => podman(['exec', container, 'true'])));
  rows.push(
    ['POST /v1/sandboxes/NAME/exec true (warm sandbox)', summarize(apiExec)],
    ['baseline: podman exec CONTAINER true', summarize(rawExec)],
  );

  printTable('bench/start (milliseconds)', rows);
  const ratio = summarize(cold).median / summarize(raw).median;
  console.log(`cold create -> first exec / raw podman run (medians): ${ratio.toFixed(2)}x (goal <= 1.5x)`);
  printSteps('cold start with a host folder', await daemon.log(), coldNames);
  if (noFolder) printSteps('cold start without a host folder', await daemon.log(), noFolderNames);
} finally {
  await daemon.stop();
  await rm(project, { recursive: true, force: true });
}

/** Runs podman as the rootless user with the daemon's own containers.conf (runsc is its default runtime). */
function podmanAs(d: TestDaemon) {
  return async (args: string[]) => {
    const uid = (await execa('id', ['-u', 'aibox'])).stdout.trim();
    const env = {
      HOME: '/var/lib/aibox-user',
      XDG_RUNTIME_DIR: `/run/aibox/user-${uid}`,
      CONTAINERS_CONF: path.join(d.stateDir, 'podman/containers.conf'),
    };
    return execa(
      'runuser',
      ['-u', 'aibox', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'podman', ...args],
      // conmon drops oom files in its working directory.
      { cwd: '/tmp' },
    );
  };
}

/** Waits until the daemon reports `size` ready sandboxes in the session pool. */
async function waitPoolReady(d: TestDaemon, size: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const a = await d.api<{ pools?: { profile: string; ready: number }[] }>('GET', '/v1/pool');
    if ((a.body.pools ?? []).some((p) => p.profile === 'session' && p.ready >= size)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the warm pool did not fill in 120 s');
}

/**
 * The per-step breakdown of the cold starts: medians of the "start step" lines (bring-up phases and the steps inside
 * them; steps that ran side by side overlap) and of the "egress step" lines, in log order.
 */
function printSteps(title: string, log: string, names: string[]): void {
  const wanted = new Set(names);
  const ids = new Set<string>();
  const steps = new Map<string, number[]>();
  const running = new Map<string, number[]>();
  const add = (key: string, ms: number) => steps.set(key, [...(steps.get(key) ?? []), ms]);
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as {
      msg?: string;
      sandbox?: string;
      id?: string;
      sandboxId?: string;
      step?: string;
      ms?: number;
    };
    if (r.msg === 'start step' && r.sandbox && wanted.has(r.sandbox) && r.step && r.ms !== undefined) {
      if (r.id) ids.add(r.id);
      add(r.step, r.ms);
    }
    if (r.msg === 'egress step' && r.sandboxId && ids.has(r.sandboxId) && r.step && r.ms !== undefined)
      add(`  egress: ${r.step}`, r.ms);
    const p = (r as { phases?: Record<string, number> }).phases;
    if (r.msg === 'sandbox running' && r.sandbox && wanted.has(r.sandbox) && p)
      for (const [k, v] of Object.entries(p)) running.set(k, [...(running.get(k) ?? []), v]);
  }
  // Daemons without step lines: the phases of their "sandbox running" line.
  if (steps.size === 0) for (const [k, v] of running) steps.set(k, v);
  // The phases are the keys of the "sandbox running" line; every other step ran inside one of them.
  const phases = [...running.keys()];
  printTable(
    `${title}, per step (ms; PHASEs are sequential, the indented steps ran inside them, side by side)`,
    [...steps].map(([k, v]): [string, Summary] => [
      phases.includes(k) ? `PHASE ${k}` : `  ${k}`,
      summarize(v),
    ]),
  );
}
