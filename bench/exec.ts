/**
 * bench/exec: commands through the sandbox's exec agent, against raw `podman exec` in the same run.
 *  1. API exec `true` (POST /v1/sandboxes/NAME/exec over the daemon's unix socket): p50/p99 back to back and after
 *     IDLE ms without a command (an agent's pattern: a command, then thought), and raw
 *     `podman exec --user 1001 CID true` (the Podman CLI as the rootless user, same container) as the baseline.
 *     The floor under both: a shell's fork + execve of /bin/true inside the sandbox against the host (per spawn).
 *  2. N sequential API execs: host processes before and after (all, conmon, and those of this daemon's Podman user).
 *  3. S sandboxes × C concurrent execs each: errors and p99.
 *  4. After removing every sandbox: the same process counts against the count before any sandbox.
 * Needs root and a built base image (starts gVisor sandboxes: run it alone, through flock).
 * Usage: npx tsx bench/exec.ts [--n 1000] [--latency 300] [--raw 10] [--sandboxes 8] [--concurrent 50] [--spawns 200] [--idle 100] [--built]
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeProject, startTestDaemon, type TestDaemon } from '../test/support/daemon.js';
import { printTable, summarize, timeIt } from './stats.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = flag('n', 1000);
const LATENCY = flag('latency', 300);
const RAW = flag('raw', 10);
const SANDBOXES = flag('sandboxes', 8);
const CONCURRENT = flag('concurrent', 50);
const SPAWNS = flag('spawns', 200);
const IDLE = flag('idle', 100);

interface Counts {
  /** Every host process (noisy: other daemons on the host count too). */
  all: number;
  conmon: number;
  /** Processes naming this daemon's directory (its Podman service, conmon, runsc, slirp4netns…). */
  ours: number;
  oursConmon: number;
}

/** Host processes (threads not counted), after letting short-lived ones finish. */
async function counts(dir: string): Promise<Counts> {
  await new Promise((r) => setTimeout(r, 1500));
  const c: Counts = { all: 0, conmon: 0, ours: 0, oursConmon: 0 };
  for (const pid of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    if (!status) continue;
    const conmon = /^Name:\s+conmon$/m.test(status);
    c.all += 1;
    if (conmon) c.conmon += 1;
    if (cmdline.includes(dir)) {
      c.ours += 1;
      if (conmon) c.oursConmon += 1;
    }
  }
  return c;
}

const signed = (n: number) => `${n >= 0 ? '+' : ''}${n}`;
const diff = (a: Counts, b: Counts) =>
  `this daemon's: ${signed(b.ours - a.ours)} (conmon ${signed(b.oursConmon - a.oursConmon)}); ` +
  `host-wide: ${signed(b.all - a.all)} (conmon ${signed(b.conmon - a.conmon)})`;

async function apiExec(daemon: TestDaemon, name: string, cmd: string[]): Promise<number> {
  const a = await daemon.api<{ exitCode: number }>('POST', `/v1/sandboxes/${name}/exec`, { cmd });
  if (a.status !== 200) throw new Error(`exec ${a.status}: ${JSON.stringify(a.body)}`);
  return a.body.exitCode;
}

async function main(): Promise<void> {
  const podmanUid = Number((await execa('id', ['-u', 'aibox'])).stdout.trim());
  const daemon = await startTestDaemon({ name: 'bench-exec', built: process.argv.includes('--built') });
  const projects: string[] = [];
  try {
    const before = await counts(daemon.dir);
    const names = Array.from({ length: SANDBOXES }, (_, i) => `be${i}`);
    for (const name of names) {
      const project = await makeProject(`bench-exec-${name}`);
      projects.push(project);
      const r = await daemon.api('POST', '/v1/sandboxes', { path: project, name, profile: 'session' });
      if (r.status !== 201) throw new Error(`create ${name}: ${JSON.stringify(r.body)}`);
    }
    const first = names[0]!;
    for (let i = 0; i < 20; i++) await apiExec(daemon, first, ['true']); // warm-up

    // 1. latency, agent against raw podman exec.
    const api: number[] = [];
    for (let i = 0; i < LATENCY; i++) api.push(await timeIt(() => apiExec(daemon, first, ['true'])));
    const afterIdle: number[] = [];
    for (let i = 0; i < Math.min(LATENCY, 100); i++) {
      await new Promise((r) => setTimeout(r, IDLE));
      afterIdle.push(await timeIt(() => apiExec(daemon, first, ['true'])));
    }
    const info = await daemon.api<{ containerId: string }>('GET', `/v1/sandboxes/${first}`);
    const containerId = info.body.containerId;
    const podmanEnv = {
      CONTAINERS_CONF: path.join(daemon.stateDir, 'podman', 'containers.conf'),
      XDG_RUNTIME_DIR: `/run/aibox/user-${podmanUid}`,
      HOME: (await execa('getent', ['passwd', 'aibox'])).stdout.split(':')[5]!,
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    };
    const beforeRaw = await counts(daemon.dir);
    const raw: number[] = [];
    for (let i = 0; i < RAW; i++) {
      raw.push(
        await timeIt(() =>
          execa('runuser', ['-u', 'aibox', '--', 'podman', 'exec', '--user', '1001', containerId, 'true'], {
            env: podmanEnv,
            extendEnv: false,
            cwd: '/tmp',
          }),
        ),
      );
    }
    const afterRaw = await counts(daemon.dir);
    // The floor under any exec: one fork + execve of /bin/true by a shell already running inside gVisor, against
    // the same loop on the host (per spawn, from loops of SPAWNS). No channel, no daemon: what systrap costs.
    const loop = `i=0; while [ $i -lt ${SPAWNS} ]; do /bin/true; i=$((i+1)); done`;
    const inside: number[] = [];
    const onHost: number[] = [];
    for (let i = 0; i < 5; i++) {
      inside.push((await timeIt(() => apiExec(daemon, first, ['sh', '-c', loop]))) / SPAWNS);
      onHost.push((await timeIt(() => execa('sh', ['-c', loop]))) / SPAWNS);
    }
    printTable('exec `true` (ms)', [
      ['API exec through the agent, back to back', summarize(api)],
      [`API exec through the agent, after ${IDLE} ms idle`, summarize(afterIdle)],
      ['raw podman exec (CLI, same container)', summarize(raw)],
      [`fork+exec of /bin/true inside gVisor (sh loop of ${SPAWNS}), per spawn`, summarize(inside)],
      [`fork+exec of /bin/true on the host (same loop), per spawn`, summarize(onHost)],
    ]);
    console.log(`processes around the ${RAW} raw podman execs: ${diff(beforeRaw, afterRaw)}`);

    // 2. N sequential execs: processes before/after.
    const beforeSeq = await counts(daemon.dir);
    const seq: number[] = [];
    let seqErrors = 0;
    for (let i = 0; i < N; i++) {
      seq.push(
        await timeIt(() =>
          apiExec(daemon, first, ['true']).then(
            (code) => {
              if (code !== 0) seqErrors += 1;
            },
            () => {
              seqErrors += 1;
            },
          ),
        ),
      );
    }
    const afterSeq = await counts(daemon.dir);
    printTable(`${N} sequential API execs (ms)`, [['API exec true', summarize(seq)]]);
    console.log(`errors ${seqErrors}; processes after ${N} execs: ${diff(beforeSeq, afterSeq)}`);

    // 3. S sandboxes × C concurrent execs.
    const conc: number[] = [];
    let concErrors = 0;
    const began = Date.now();
    await Promise.all(
      names.flatMap((name) =>
        Array.from({ length: CONCURRENT }, async () => {
          try {
            conc.push(
              await timeIt(async () => {
                if ((await apiExec(daemon, name, ['true'])) !== 0) throw new Error('non-zero exit');
              }),
            );
          } catch {
            concErrors += 1;
          }
        }),
      ),
    );
    printTable(`${SANDBOXES} sandboxes × ${CONCURRENT} concurrent API execs (ms)`, [
      ['API exec true', summarize(conc)],
    ]);
    console.log(`errors ${concErrors}; wall ${Date.now() - began} ms`);

    // 4. Remove every sandbox: nothing of them may stay.
    for (const name of names) await daemon.api('DELETE', `/v1/sandboxes/${name}`);
    const afterRm = await counts(daemon.dir);
    console.log(
      `\nprocesses after removing the sandboxes, against before they were created: ${diff(before, afterRm)}`,
    );
    console.log(
      '(the raw podman execs of step 1 are included: each leaves conmon processes behind, which is why they are few)',
    );
  } finally {
    await daemon.stop();
    for (const p of projects) await rm(p, { recursive: true, force: true });
  }
}

await main();
