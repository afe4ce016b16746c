/**
 * bench/density: idle sandboxes on one daemon. Start time of each sandbox in turn (the 1st, the middle one, the
 * N-th, and the median per tenth, to see whether starting gets slower with N), host memory per sandbox, daemon RSS
 * at the 1st, middle and N-th start, and how long removing them all takes. With --platforms, first compares gVisor
 * platforms on the same daemon (idle CPU per sandbox, exec- and syscall-heavy latency) by rewriting the runsc
 * wrapper the Podman service uses (a measurement only). --built runs dist/bin/aiboxd.js (`npm run build` first).
 * Needs root and a built base image (starts N gVisor sandboxes: run it alone, through flock).
 * Usage: npx tsx bench/density.ts [--n 50] [--built] [--platforms systrap,ptrace] [--per-platform 10]
 *        [--remove-concurrency 4]
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { makeProject, startTestDaemon } from '../test/support/daemon.js';
import { summarize, timeIt } from './stats.js';
import type { TestDaemon } from '../test/support/daemon.js';

/** CPU time used by every process over `ms`, summed by command name, as percent of one core, highest first. */
async function cpuByCommand(ms: number, daemonPid: number): Promise<[string, number][]> {
  const sample = async () => {
    const out = new Map<string, { comm: string; ticks: number }>();
    for (const pid of await readdir('/proc')) {
      if (!/^[0-9]+$/.test(pid)) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const m = /^[0-9]+ \((.*)\) (.*)$/.exec(stat.trim());
      if (!m) continue;
      const f = m[2]!.split(' ');
      out.set(pid, {
        comm: Number(pid) === daemonPid ? 'aiboxd (node)' : m[1]!,
        ticks: Number(f[11]) + Number(f[12]),
      });
    }
    return out;
  };
  const a = await sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = await sample();
  const by = new Map<string, number>();
  for (const [pid, v] of b) {
    const used = v.ticks - (a.get(pid)?.ticks ?? v.ticks);
    by.set(v.comm, (by.get(v.comm) ?? 0) + used);
  }
  // USER_HZ is 100 on Linux.
  return [...by]
    .map(([c, t]): [string, number] => [c, (t / 100 / (ms / 1000)) * 100])
    .sort((x, y) => y[1] - x[1]);
}

/** Where the starts spent their time, from the daemon log ("sandbox running" carries ms per phase), by sandbox. */
async function phases(daemon: TestDaemon): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  for (const line of (await daemon.log()).split('\n')) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as { msg: string; sandbox?: string; phases?: Record<string, number> };
    if (r.msg === 'sandbox running' && r.sandbox && r.phases) out.set(r.sandbox, r.phases);
  }
  return out;
}

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = flag('--n', 50);
const PER_PLATFORM = flag('--per-platform', 10);
const BUILT = process.argv.includes('--built');
const platformsAt = process.argv.indexOf('--platforms');
const PLATFORMS = platformsAt > 0 ? process.argv[platformsAt + 1]!.split(',') : [];
/** First uid of the rootless Podman user's subordinate range: gVisor's sentry, gofer and helpers run in it. */
const SUBUID_START = 200_000;

/** CPU used over `ms` by the sandboxes' own host processes (uids in the subordinate range), percent of one core. */
async function sandboxCpu(ms: number): Promise<number> {
  const sample = async () => {
    let ticks = 0;
    for (const pid of await readdir('/proc')) {
      if (!/^[0-9]+$/.test(pid)) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const uid = Number(/^Uid:\s+([0-9]+)/m.exec(status)?.[1] ?? 0);
      if (uid < SUBUID_START) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0);
    }
    return ticks;
  };
  const a = await sample();
  await new Promise((r) => setTimeout(r, ms));
  return (((await sample()) - a) / 100 / (ms / 1000)) * 100;
}

/** Points the Podman service's runsc wrapper at a gVisor platform (new containers only). */
async function usePlatform(daemon: TestDaemon, platform: string): Promise<void> {
  const file = path.join(daemon.stateDir, 'podman', 'runsc-wrapper');
  const text = (await readFile(file, 'utf8')).replace(/ --platform=[a-z]+/g, '');
  await writeFile(file, text.replace(/^(exec \S+)/m, `$1 --platform=${platform}`));
}

const LOOP = ['sh', '-c', 'for i in $(seq 200); do /bin/true; done'];
// Build-like: many small files written, read back, sorted, hashed and archived.
const BUILD = [
  'sh',
  '-c',
  'd=$(mktemp -d) && cd $d && for i in $(seq 300); do echo "line $i" > f$i.c; done && cat f*.c | sort | sha256sum >/dev/null && tar cf $d.tar . && grep -rl 7 . | wc -l >/dev/null && cd / && rm -rf $d $d.tar',
];

async function comparePlatform(daemon: TestDaemon, projects: string[], platform: string) {
  await usePlatform(daemon, platform);
  const names = Array.from({ length: PER_PLATFORM }, (_, i) => `plat-${platform}-${i}`);
  const starts: number[] = [];
  for (let i = 0; i < names.length; i++)
    starts.push(
      await timeIt(async () => {
        const r = await daemon.api('POST', '/v1/sandboxes', { path: projects[i], name: names[i] });
        if (r.status !== 201) throw new Error(`${names[i]}: ${JSON.stringify(r.body)}`);
      }),
    );
  await new Promise((r) => setTimeout(r, 5000));
  const idle = await sandboxCpu(10_000);
  const run = async (cmd: string[]) => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++)
      samples.push(
        await timeIt(async () => {
          const r = await daemon.exec(names[0]!, cmd);
          if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
        }),
      );
    return summarize(samples).median;
  };
  const trivial = await run(['true']);
  const loop = await run(LOOP);
  const build = await run(BUILD);
  for (const n of names) await daemon.api('DELETE', `/v1/sandboxes/${n}`);
  console.log(
    `  ${platform}: idle ${(idle / names.length).toFixed(2)} % per sandbox, true ${trivial.toFixed(0)} ms, loop ${loop.toFixed(0)} ms, build ${build.toFixed(0)} ms`,
  );
  return {
    platform,
    start: summarize(starts).median,
    idlePerSandbox: idle / names.length,
    trivial,
    loop,
    build,
  };
}
const REMOVE_CONCURRENCY = flag('--remove-concurrency', 4);

const memAvailableKiB = async () =>
  Number(/MemAvailable:\s+([0-9]+)/.exec(await readFile('/proc/meminfo', 'utf8'))?.[1] ?? 0);
const rssKiB = async (pid: number) =>
  Number(/VmRSS:\s+([0-9]+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

const daemon = await startTestDaemon({ name: 'bench-density', built: BUILT });
const projects: string[] = [];
try {
  const pid = Number((await readFile(path.join(daemon.stateDir, 'aiboxd.pid'), 'utf8')).trim());
  for (let i = 0; i < Math.max(N, PER_PLATFORM); i++) projects.push(await makeProject(`density-${i}`));
  // One warm-up start so the first sample is not the image's first use.
  const warm = await daemon.api('POST', '/v1/sandboxes', { path: projects[0], name: 'density-warm' });
  if (warm.status !== 201) throw new Error(`warm-up: ${JSON.stringify(warm.body)}`);
  await daemon.api('DELETE', '/v1/sandboxes/density-warm');
  const idleBaseline = await sandboxCpu(10_000);
  const wrapperFile = path.join(daemon.stateDir, 'podman', 'runsc-wrapper');
  const wrapper = await readFile(wrapperFile, 'utf8');
  const platforms = [];
  for (const p of PLATFORMS) platforms.push(await comparePlatform(daemon, projects, p));
  // The density run uses the daemon's own wrapper, as it wrote it.
  await writeFile(wrapperFile, wrapper);
  console.log(
    `density run with the daemon's wrapper: ${wrapper.split('\n').find((l) => l.startsWith('exec'))}`,
  );
  const rssBefore = await rssKiB(pid);
  const rssAt = new Map<number, number>();
  const memBefore = await memAvailableKiB();
  const starts: number[] = [];
  for (let i = 0; i < N; i++) {
    starts.push(
      await timeIt(async () => {
        const r = await daemon.api('POST', '/v1/sandboxes', { path: projects[i], name: `density-${i}` });
        if (r.status !== 201) throw new Error(`sandbox ${i}: ${JSON.stringify(r.body)}`);
      }),
    );
    if ([1, 25, 50, 100, N].includes(i + 1)) rssAt.set(i + 1, await rssKiB(pid));
    if ((i + 1) % 10 === 0) console.log(`  ${i + 1} sandboxes, last start ${starts[i]!.toFixed(0)} ms`);
  }
  // Let Squid, gVisor and the daemon settle before reading memory.
  await new Promise((r) => setTimeout(r, 5000));
  const idleCpu = await cpuByCommand(10_000, pid);
  const idleSandboxes = await sandboxCpu(10_000);
  const rssAfter = await rssKiB(pid);
  const memAfter = await memAvailableKiB();
  const listMs = await timeIt(() => daemon.api('GET', '/v1/sandboxes'));
  const names = Array.from({ length: N }, (_, i) => `density-${i}`);
  const removeMs = await timeIt(async () => {
    const queue = [...names];
    await Promise.all(
      Array.from({ length: REMOVE_CONCURRENCY }, async () => {
        for (let n = queue.shift(); n !== undefined; n = queue.shift())
          await daemon.api('DELETE', `/v1/sandboxes/${n}`);
      }),
    );
  });

  const tenth = Math.max(1, Math.floor(N / 10));
  console.log(
    `\nbench/density (N = ${N} idle sandboxes, started one after the other; daemon from ${BUILT ? 'dist' : 'sources (tsx)'})`,
  );
  console.log(`sandbox processes' CPU with no sandbox (baseline)  ${idleBaseline.toFixed(2)} %`);
  for (const p of platforms)
    console.log(
      `platform ${p.platform.padEnd(8)} start median ${p.start.toFixed(0)} ms, idle ${p.idlePerSandbox.toFixed(2)} % of a core per sandbox, exec true ${p.trivial.toFixed(0)} ms, 200x /bin/true ${p.loop.toFixed(0)} ms, build-like ${p.build.toFixed(0)} ms (medians of 5, ${PER_PLATFORM} sandboxes up)`,
    );
  console.log(`start of the 1st sandbox          ${starts[0]!.toFixed(0)} ms`);
  console.log(
    `start of the ${Math.ceil(N / 2)}th sandbox         ${starts[Math.ceil(N / 2) - 1]!.toFixed(0)} ms`,
  );
  console.log(`start of the ${N}th sandbox         ${starts[N - 1]!.toFixed(0)} ms`);
  for (let i = 0; i < N; i += tenth) {
    const s = summarize(starts.slice(i, i + tenth));
    console.log(
      `  sandboxes ${String(i + 1).padStart(3)}-${String(Math.min(N, i + tenth)).padEnd(3)} median ${s.median.toFixed(0)} ms, max ${Math.max(...starts.slice(i, i + tenth)).toFixed(0)} ms`,
    );
  }
  console.log(`host memory per idle sandbox      ${((memBefore - memAfter) / N / 1024).toFixed(1)} MiB`);
  console.log(
    `daemon RSS                        ${(rssBefore / 1024).toFixed(0)} MiB -> ${(rssAfter / 1024).toFixed(0)} MiB`,
  );
  console.log(
    `daemon RSS at ${[...rssAt].map(([n, kib]) => `${n}: ${(kib / 1024).toFixed(0)} MiB`).join(', ')}`,
  );
  console.log(
    `idle CPU of all ${N} sandboxes' processes: ${idleSandboxes.toFixed(1)} % (${(idleSandboxes / N).toFixed(2)} % each)`,
  );
  console.log(`idle CPU over 10 s (percent of one core, by command; the host has ${cpus().length} cores):`);
  for (const [comm, pct] of idleCpu.slice(0, 8)) console.log(`  ${comm.padEnd(20)} ${pct.toFixed(1)} %`);
  const byName = await phases(daemon);
  for (const at of [1, Math.ceil(N / 2), N]) {
    const p = byName.get(`density-${at - 1}`);
    if (p)
      console.log(
        `phases of start ${at} (ms): ${Object.entries(p)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
  }
  console.log(`GET /v1/sandboxes with ${N}         ${listMs.toFixed(0)} ms`);
  console.log(`remove all ${N} (concurrency ${REMOVE_CONCURRENCY})      ${(removeMs / 1000).toFixed(1)} s`);
} finally {
  await daemon.stop();
  for (const p of projects) await rm(p, { recursive: true, force: true });
}
