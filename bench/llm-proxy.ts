/**
 * Added latency of the LLM proxy: the same calls to the same fake upstream on loopback, direct and through the
 * proxy, interleaved in one run. Prints median and p99 of a non-streaming Messages call and of the time to the
 * first byte of a streamed one.   npx tsx bench/llm-proxy.ts [iterations]
 */
import { Agent, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import {
  CredentialsConfig,
  EmbeddedSecretStore,
  SecretRedactor,
  SecretValue,
} from '../src/credentials/index.js';
import { LlmConfig, LlmPolicy, LlmProxy } from '../src/llm-proxy/index.js';
import { systemClock } from '../src/shared/index.js';
import { FakeLlm } from '../test/support/fake-llm.js';

const N = Number(process.argv[2] ?? 400);
const KEY = 'sk-ant-api03-bench-key-0000000000000000';
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** Returns [time to first body byte, total time] in ms. */
function timed(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers }, (res) => {
      res.on('data', () => {
        first ||= performance.now() - t0;
      });
      res.on('end', () => resolve([first, performance.now() - t0]));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function stats(xs: number[]): { p50: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

const fmt = (n: number) => `${n.toFixed(3).padStart(8)} ms`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-bench-'));
  const logger = pino({ level: 'warn' });
  const redactor = new SecretRedactor();
  const store = new EmbeddedSecretStore({
    dir: join(dir, 'secrets'),
    ttl: CredentialsConfig.parse({}).ttl,
    kinds: {},
    logger,
    clock: systemClock,
    redactor,
  });
  await store.set('anthropic-api-key', new SecretValue(KEY));
  const upstream = new FakeLlm({ chunks: 20, chunkDelayMs: 0 });
  await upstream.start();
  const records: unknown[] = [];
  const proxy = new LlmProxy({
    sandbox: { id: 'sbx_bench', name: 'bench' },
    config: LlmConfig.parse({
      providers: { anthropic: { upstream: upstream.url, credential: 'anthropic-api-key' } },
    }),
    policy: LlmPolicy.parse({ providers: ['anthropic'], models: ['claude-*'] }),
    credentials: store,
    sink: { record: (r) => void records.push(r) },
    logger,
    clock: systemClock,
    redactor,
  });
  await proxy.start();
  const upstreamPort = Number(new URL(upstream.url).port);

  const body = (stream: boolean) =>
    JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      stream,
      messages: [{ role: 'user', content: 'x'.repeat(2000) }],
    });
  const direct = { 'content-type': 'application/json', 'x-api-key': KEY };
  const viaProxy = { 'content-type': 'application/json', 'x-api-key': proxy.placeholder };

  const rows: Record<string, number[]> = { direct: [], proxy: [], directTtfb: [], proxyTtfb: [] };
  for (let i = 0; i < 30; i++) {
    await timed(upstreamPort, '/v1/messages', direct, body(false));
    await timed(proxy.port, '/anthropic/v1/messages', viaProxy, body(false));
  }
  for (let i = 0; i < N; i++) {
    rows.direct!.push((await timed(upstreamPort, '/v1/messages', direct, body(false)))[1]);
    rows.proxy!.push((await timed(proxy.port, '/anthropic/v1/messages', viaProxy, body(false)))[1]);
    rows.directTtfb!.push((await timed(upstreamPort, '/v1/messages', direct, body(true)))[0]);
    rows.proxyTtfb!.push((await timed(proxy.port, '/anthropic/v1/messages', viaProxy, body(true)))[0]);
  }

  const d = stats(rows.direct!);
  const p = stats(rows.proxy!);
  const dt = stats(rows.directTtfb!);
  const pt = stats(rows.proxyTtfb!);
  console.log(`llm-proxy bench: ${N} iterations each, fake upstream on 127.0.0.1, node ${process.version}`);
  console.log(`                                   p50          p99`);
  console.log(`non-streaming  direct        ${fmt(d.p50)}  ${fmt(d.p99)}`);
  console.log(`non-streaming  via proxy     ${fmt(p.p50)}  ${fmt(p.p99)}`);
  console.log(`non-streaming  added         ${fmt(p.p50 - d.p50)}  ${fmt(p.p99 - d.p99)}`);
  console.log(`streaming TTFB direct        ${fmt(dt.p50)}  ${fmt(dt.p99)}`);
  console.log(`streaming TTFB via proxy     ${fmt(pt.p50)}  ${fmt(pt.p99)}`);
  console.log(`streaming TTFB added         ${fmt(pt.p50 - dt.p50)}  ${fmt(pt.p99 - dt.p99)}`);
  console.log(`(${records.length} call records written to the sink)`);

  await proxy.stop();
  await upstream.stop();
  agent.destroy();
  await rm(dir, { recursive: true, force: true });
}

await main();
