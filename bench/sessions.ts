/**
 * bench/sessions: the session API over TCP with a bearer token, next to the unix socket in the same run.
 *   - create → first exec: cold, and (with --pool N) claimed from a warm pool, through the SDK over TCP;
 *   - exec round trip (`true`) over TCP with a token vs the unix socket (POST /v1/sandboxes/NAME/exec on a
 *     workspace-less sandbox of the same profile);
 *   - C concurrent sessions × E execs each (default 20 × 20): errors, p50, p99.
 * Needs root and a built base image (real gVisor sandboxes: run it alone, through flock).
 * Usage: npx tsx bench/sessions.ts [--runs N] [--pool N] [--concurrent C] [--execs E]
 */
import net from 'node:net';
import { startTestDaemon } from '../test/support/daemon.js';
import { AiboxClient } from '../packages/sdk/src/index.js';
import { printTable, summarize, timeIt, type Summary } from './stats.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = flag('--runs', 5);
const poolSize = flag('--pool', 0);
const concurrent = flag('--concurrent', 20);
const execsEach = flag('--execs', 20);

const port = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address() as net.AddressInfo;
    s.close(() => resolve(p));
  });
});
const daemon = await startTestDaemon({
  name: 'bench-sessions',
  config: {
    sessions: {
      listener: { enabled: true, host: '127.0.0.1', port },
      maxPerToken: concurrent + 2,
      maxTotal: concurrent + 4,
      rateLimit: { max: 1_000_000, windowSeconds: 60 },
    },
    ...(poolSize > 0 ? { pool: { profiles: { session: { size: poolSize, maxAgeSeconds: 3600 } } } } : {}),
  },
});
try {
  const setup = await daemon.cli(['setup', '--json']);
  if (setup.exitCode !== 0) throw new Error(`aibox setup failed: ${setup.stderr}`);
  const made = await daemon.cli(['token', 'create', 'bench', '--json']);
  const token = (JSON.parse(made.stdout) as { token: string }).token;
  const client = new AiboxClient({ baseUrl: `http://127.0.0.1:${port}`, token, timeoutMs: 300_000 });
  const rows: [string, Summary][] = [];

  const firstExec = async (): Promise<{ ms: number; warm: boolean }> => {
    let warm = false;
    const ms = await timeIt(async () => {
      const s = await client.createSession();
      warm = s.info.warm;
      await s.exec(['true']);
      await s.close();
    });
    return { ms, warm };
  };
  const cold: number[] = [];
  const claimed: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (poolSize > 0) await waitForPool(daemon, poolSize);
    const r = await firstExec();
    (r.warm ? claimed : cold).push(r.ms);
  }
  if (cold.length) rows.push(['create → first exec, cold (TCP, token)', summarize(cold)]);
  if (claimed.length) rows.push(['create → first exec, warm pool (TCP, token)', summarize(claimed)]);

  // exec round trips: TCP + token vs the unix socket, on sandboxes of the same profile
  const s = await client.createSession();
  const box = await daemon.api<{ name: string }>('POST', '/v1/sandboxes', { profile: 'session' });
  if (box.status !== 201) throw new Error(`POST /v1/sandboxes: ${JSON.stringify(box.body)}`);
  const tcp: number[] = [];
  const unix: number[] = [];
  for (let i = 0; i < 40; i++) {
    tcp.push(await timeIt(() => s.exec(['true'])));
    unix.push(
      await timeIt(() => daemon.api('POST', `/v1/sandboxes/${box.body.name}/exec`, { cmd: ['true'] })),
    );
  }
  rows.push(['exec round trip (TCP, token)', summarize(tcp)]);
  rows.push(['exec round trip (unix socket)', summarize(unix)]);
  await s.close();
  await daemon.api('DELETE', `/v1/sandboxes/${box.body.name}`);

  // C sessions at once, E execs each (--concurrent 0: skipped)
  if (concurrent === 0) {
    printTable('session API (ms)', rows);
    process.exitCode = 0;
  } else {
    const latencies: number[] = [];
    let errors = 0;
    const wall = await timeIt(async () => {
      await Promise.all(
        Array.from({ length: concurrent }, async () => {
          const session = await client.createSession().catch(() => undefined);
          if (!session) {
            errors += execsEach;
            return;
          }
          try {
            for (let i = 0; i < execsEach; i++) {
              const t = await timeIt(async () => {
                const r = await session.exec(['sh', '-c', 'echo ok']).catch(() => undefined);
                if (r?.stdout !== 'ok\n') errors++;
              });
              latencies.push(t);
            }
          } finally {
            await session.close().catch(() => undefined);
          }
        }),
      );
    });
    rows.push([`exec in ${concurrent} concurrent sessions × ${execsEach}`, summarize(latencies)]);
    printTable('session API (ms)', rows);
    console.log(
      `\n${concurrent} × ${execsEach}: ${errors} errors, ${(wall / 1000).toFixed(1)} s wall (sessions created concurrently)`,
    );
  }
} finally {
  await daemon.stop();
}

async function waitForPool(d: typeof daemon, size: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const r = await d.api<{ pools: { ready: number }[] }>('GET', '/v1/pool');
    if ((r.body.pools?.[0]?.ready ?? 0) >= size) return;
    if (Date.now() > deadline) throw new Error('the warm pool did not fill');
    await new Promise((res) => setTimeout(res, 250));
  }
}
