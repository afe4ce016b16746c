/**
 * bench/density: idle sandboxes on one daemon. Start time of each sandbox in turn (the 1st, the middle one, the
 * N-th, and the median per tenth, to see whether starting gets slower with N), host memory per sandbox, daemon RSS
 * before and after, and how long removing them all takes. Needs root and a built base image (starts N gVisor
 * sandboxes: run it alone, through flock). Usage: npx tsx bench/density.ts [--n 50] [--remove-concurrency 4]
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeProject, startTestDaemon } from '../test/support/daemon.js';
import { summarize, timeIt } from './stats.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = flag('--n', 50);
const REMOVE_CONCURRENCY = flag('--remove-concurrency', 4);

const memAvailableKiB = async () =>
  Number(/MemAvailable:\s+([0-9]+)/.exec(await readFile('/proc/meminfo', 'utf8'))?.[1] ?? 0);
const rssKiB = async (pid: number) =>
  Number(/VmRSS:\s+([0-9]+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

const daemon = await startTestDaemon({ name: 'bench-density' });
const projects: string[] = [];
try {
  const pid = Number((await readFile(path.join(daemon.stateDir, 'aiboxd.pid'), 'utf8')).trim());
  for (let i = 0; i < N; i++) projects.push(await makeProject(`density-${i}`));
  // One warm-up start so the first sample is not the image's first use.
  const warm = await daemon.api('POST', '/v1/sandboxes', { path: projects[0], name: 'density-warm' });
  if (warm.status !== 201) throw new Error(`warm-up: ${JSON.stringify(warm.body)}`);
  await daemon.api('DELETE', '/v1/sandboxes/density-warm');
  const rssBefore = await rssKiB(pid);
  const memBefore = await memAvailableKiB();
  const starts: number[] = [];
  for (let i = 0; i < N; i++) {
    starts.push(
      await timeIt(async () => {
        const r = await daemon.api('POST', '/v1/sandboxes', { path: projects[i], name: `density-${i}` });
        if (r.status !== 201) throw new Error(`sandbox ${i}: ${JSON.stringify(r.body)}`);
      }),
    );
    if ((i + 1) % 10 === 0) console.log(`  ${i + 1} sandboxes, last start ${starts[i]!.toFixed(0)} ms`);
  }
  // Let Squid, gVisor and the daemon settle before reading memory.
  await new Promise((r) => setTimeout(r, 5000));
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
  console.log(`\nbench/density (N = ${N} idle sandboxes, started one after the other)`);
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
  console.log(`GET /v1/sandboxes with ${N}         ${listMs.toFixed(0)} ms`);
  console.log(`remove all ${N} (concurrency ${REMOVE_CONCURRENCY})      ${(removeMs / 1000).toFixed(1)} s`);
} finally {
  await daemon.stop();
  for (const p of projects) await rm(p, { recursive: true, force: true });
}
