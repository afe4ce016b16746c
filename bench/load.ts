/**
 * bench/load: concurrent execs on a few running sandboxes: latency (p50/p99) and throughput of
 * POST /v1/sandboxes/NAME/exec `true`, round-robin over the sandboxes. Needs root and a built base image (starts
 * gVisor sandboxes: run it alone, through flock).
 * Usage: npx tsx bench/load.ts [--sandboxes 8] [--concurrency 16] [--execs 400]
 */
import { rm } from 'node:fs/promises';
import { makeProject, startTestDaemon } from '../test/support/daemon.js';
import { summarize, timeIt } from './stats.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SANDBOXES = flag('--sandboxes', 8);
const CONCURRENCY = flag('--concurrency', 16);
const EXECS = flag('--execs', 400);

const daemon = await startTestDaemon({ name: 'bench-load' });
const projects: string[] = [];
try {
  for (let i = 0; i < SANDBOXES; i++) projects.push(await makeProject(`load-${i}`));
  await Promise.all(
    projects.map(async (p, i) => {
      const r = await daemon.api('POST', '/v1/sandboxes', { path: p, name: `load-${i}` });
      if (r.status !== 201) throw new Error(`sandbox ${i}: ${JSON.stringify(r.body)}`);
    }),
  );
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < EXECS; i = next++) {
        const name = `load-${i % SANDBOXES}`;
        latencies.push(
          await timeIt(async () => {
            const r = await daemon.api<{ exitCode?: number; error?: { code: string } }>(
              'POST',
              `/v1/sandboxes/${name}/exec`,
              { cmd: ['true'] },
            );
            if (r.status !== 200 || r.body.exitCode !== 0) {
              const key = `${r.status} ${r.body.error?.code ?? `exit ${r.body.exitCode}`}`;
              errors.set(key, (errors.get(key) ?? 0) + 1);
            }
          }),
        );
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const s = summarize(latencies);
  console.log(
    `\nbench/load (${SANDBOXES} sandboxes, ${EXECS} execs of \`true\`, concurrency ${CONCURRENCY})`,
  );
  console.log(
    `latency p50 ${s.median.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, min ${s.min.toFixed(0)} ms`,
  );
  console.log(`throughput ${(EXECS / seconds).toFixed(1)} execs/s (${seconds.toFixed(1)} s)`);
  console.log(`errors ${[...errors].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}`);
} finally {
  await daemon.stop();
  for (const p of projects) await rm(p, { recursive: true, force: true });
}
