/**
 * Egress benchmark: the cost of the proxy path, measured against a direct request to the same loopback origin in
 * the same run, and the time from a policy change to its enforcement. Needs root, squid and nft (like aiboxd).
 * Run: `npx tsx bench/egress.ts` (figures on stdout; nothing is asserted).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { EgressConfig, EgressManager, buildEgressPolicy } from '../src/egress/index.js';

const N = Number(process.env.BENCH_N ?? 400);
const BODY = Buffer.alloc(Number(process.env.BENCH_BODY ?? 1024), 'x');
const BIG = Buffer.alloc(4 * 1024 * 1024, 'y');

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

function stats(samples: number[]): { p50: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

function get(url: string, agent: http.Agent, proxy?: string): Promise<{ status: number; bytes: number }> {
  const target = new URL(url);
  const via = proxy ? new URL(proxy) : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: via?.hostname ?? target.hostname,
        port: via?.port ?? target.port,
        path: via ? url : target.pathname,
        headers: { host: target.host },
        agent,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function latency(url: string, proxy?: string): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[] = [];
  for (let i = 0; i < N + 20; i++) {
    const t = process.hrtime.bigint();
    const r = await get(url, agent, proxy);
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    if (i >= 20) out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  agent.destroy();
  return out;
}

async function throughput(url: string, proxy: string | undefined, seconds = 3, concurrency = 4) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const end = Date.now() + seconds * 1000;
  let requests = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const r = await get(url, agent, proxy);
        requests++;
        bytes += r.bytes;
      }
    }),
  );
  agent.destroy();
  return { rps: requests / seconds, mibps: bytes / seconds / 1024 / 1024 };
}

function dnsQuery(port: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = process.hrtime.bigint();
    s.on('message', () => {
      s.close();
      resolve(Number(process.hrtime.bigint() - t) / 1e6);
    });
    s.on('error', reject);
    s.send(dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name }] }), port, '127.0.0.1');
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench/egress: needs root (squid drops to its user, the resolver binds port 53 for squid)');
    return;
  }
  const origin = http.createServer((req, res) => res.end(req.url === '/big' ? BIG : BODY));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  const port = (origin.address() as AddressInfo).port;
  const stateDir = await mkdtemp(join(tmpdir(), 'aibox-bench-egress-'));
  const manager = new EgressManager({
    config: EgressConfig.parse({}),
    stateDir,
    logger: silent,
    clock: { now: () => Date.now() },
    sink: () => {},
    upstreamDns: [],
  });
  const base = {
    dnsHosts: { 'origin.test': '127.0.0.1', 'later.test': '127.0.0.1' },
    hostAccess: [{ address: '127.0.0.1', port }],
  };
  try {
    await manager.prepare(
      'sbx_bench',
      buildEgressPolicy({ allow: [{ host: 'origin.test', ports: [port] }], ...base }),
    );
    console.log(
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (figures are noisy when it exceeds the core count)`,
    );
    const { proxy } = manager.endpoints('sbx_bench');
    const proxyUrl = proxy.replace('10.0.2.2', '127.0.0.1');
    const direct = stats(await latency(`http://127.0.0.1:${port}/`));
    const viaProxy = stats(await latency(`http://origin.test:${port}/`, proxyUrl));
    console.log(`HTTP GET ${BODY.length} B, ${N} sequential keep-alive requests (ms):`);
    console.log(`  direct       p50 ${direct.p50.toFixed(3)}  p99 ${direct.p99.toFixed(3)}`);
    console.log(`  via proxy    p50 ${viaProxy.p50.toFixed(3)}  p99 ${viaProxy.p99.toFixed(3)}`);
    console.log(
      `  added        p50 ${(viaProxy.p50 - direct.p50).toFixed(3)}  p99 ${(viaProxy.p99 - direct.p99).toFixed(3)}`,
    );
    const tDirect = await throughput(`http://127.0.0.1:${port}/`, undefined);
    const tProxy = await throughput(`http://origin.test:${port}/`, proxyUrl);
    console.log(`throughput, 4 connections, ${BODY.length} B bodies (req/s):`);
    console.log(`  direct ${tDirect.rps.toFixed(0)}   via proxy ${tProxy.rps.toFixed(0)}`);
    const bDirect = await throughput(`http://127.0.0.1:${port}/big`, undefined, 3, 2);
    const bProxy = await throughput(`http://origin.test:${port}/big`, proxyUrl, 3, 2);
    console.log('throughput, 2 connections, 4 MiB bodies (MiB/s):');
    console.log(`  direct ${bDirect.mibps.toFixed(0)}   via proxy ${bProxy.mibps.toFixed(0)}`);

    const dnsPort = manager.state('sbx_bench')!.dnsPort;
    const dns: number[] = [];
    for (let i = 0; i < 200; i++) dns.push(await dnsQuery(dnsPort, 'origin.test'));
    const d = stats(dns);
    console.log(
      `allowlisting resolver, static record over UDP (ms): p50 ${d.p50.toFixed(3)}  p99 ${d.p99.toFixed(3)}`,
    );

    // Policy change → enforcement: the time until the newly allowed host answers through the proxy.
    const reloads: number[] = [];
    const agent = new http.Agent({ keepAlive: false });
    for (let i = 0; i < 5; i++) {
      const allowLater = i % 2 === 0;
      const allow = [
        { host: 'origin.test', ports: [port] },
        ...(allowLater ? [{ host: 'later.test', ports: [port] }] : []),
      ];
      const t = process.hrtime.bigint();
      await manager.update('sbx_bench', buildEgressPolicy({ allow, ...base }));
      for (;;) {
        const r = await get(`http://later.test:${port}/`, agent, proxyUrl);
        if ((r.status === 200) === allowLater) break;
      }
      reloads.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const rl = stats(reloads);
    console.log(
      `policy change to enforcement (squid -k reconfigure + resolver swap, ms): p50 ${rl.p50.toFixed(0)}  max ${Math.max(...reloads).toFixed(0)}`,
    );
  } finally {
    await manager.release('sbx_bench');
    await manager.close();
    origin.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
