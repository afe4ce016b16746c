/**
 * Egress benchmark: the cost of the proxy path, measured against a direct request to the same loopback origin in
 * the same run, and the time from a policy change to its enforcement. Needs root, squid-openssl and openssl (like
 * aiboxd). Three paths, each next to a direct connection:
 *   plain HTTP        absolute-form requests through the proxy (keep-alive on both sides)
 *   CONNECT (tunnel)  HTTPS to a host without method/path rules: CONNECT, SNI peeked, spliced
 *   inspected HTTPS   HTTPS to a host with a method/path rule: TLS terminated with the sandbox CA, checked, re-encrypted
 * For HTTPS both a request on a kept-alive connection and a whole new connection (CONNECT + TLS handshake + one
 * request) are measured. A new connection is a full TLS handshake on both sides of the comparison: the direct
 * baseline opens a new TLS socket too, and no TLS session is ever resumed (counted and printed, so a resumed
 * session cannot flatter either side). Inspected hosts are bumped client-first, so the proxy's own connection
 * upstream comes from its pool; the upstream handshakes seen during that series are printed next to it.
 * Run: `npx tsx bench/egress.ts` (figures on stdout; nothing is asserted).
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { EgressConfig, EgressManager, buildEgressPolicy } from '../src/egress/index.js';

const N = Number(process.env.BENCH_N ?? 400);
/** Handshakes the client side completed with a resumed TLS session (must stay 0: every new connection is full). */
let resumedSessions = 0;
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

type ConnectFn = (
  options: { host?: string; port?: number },
  cb: (err: Error | null, socket?: Socket) => void,
) => undefined;

/** HTTPS through the proxy: CONNECT, then TLS over the tunnel (what curl and Node clients do with HTTPS_PROXY). */
function tunnelAgent(
  proxy: { host: string; port: number } | undefined,
  opts: https.AgentOptions,
): https.Agent {
  const agent = new https.Agent(opts);
  const createConnection: ConnectFn = (options, cb) => {
    const host = options.host!;
    const port = options.port!;
    const tls = (socket?: Socket) =>
      tlsConnect({ ca: opts.ca, ...(socket ? { socket } : { host, port }), servername: host });
    const ready = (s: ReturnType<typeof tls>) => {
      s.once('secureConnect', () => {
        if (s.isSessionReused()) resumedSessions++;
        cb(null, s);
      });
      s.once('error', (e) => cb(e));
    };
    if (!proxy) {
      ready(tls());
      return undefined;
    }
    const raw = netConnect(proxy.port, proxy.host, () =>
      raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`),
    );
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      raw.off('data', onData);
      if (!/^HTTP\/1\.[01] 200/.test(head)) return cb(new Error(`CONNECT refused: ${head.split('\r\n')[0]}`));
      ready(tls(raw));
    };
    raw.on('data', onData);
    raw.once('error', (e) => cb(e));
    return undefined;
  };
  (agent as unknown as { createConnection: ConnectFn }).createConnection = createConnection;
  return agent;
}

function httpsGet(url: string, agent: https.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sequential HTTPS requests: on one kept-alive connection, or each on a new connection (handshake included). */
async function httpsLatency(
  url: string,
  proxy: { host: string; port: number } | undefined,
  ca: Buffer[],
  keepAlive: boolean,
  n = N,
  warmup = 10,
): Promise<number[]> {
  const make = () => tunnelAgent(proxy, { keepAlive, maxSockets: 1, ca });
  let agent = make();
  const out: number[] = [];
  for (let i = 0; i < n + warmup; i++) {
    if (!keepAlive) agent = make();
    const t = process.hrtime.bigint();
    const status = await httpsGet(url, agent);
    if (status !== 200) throw new Error(`status ${status} for ${url}`);
    if (i >= warmup) out.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (!keepAlive) agent.destroy();
  }
  agent.destroy();
  return out;
}

function row(label: string, direct: { p50: number; p99: number }, via: { p50: number; p99: number }): void {
  const f = (x: number) => x.toFixed(3).padStart(7);
  console.log(
    `  ${label.padEnd(34)} direct p50 ${f(direct.p50)} p99 ${f(direct.p99)} | proxy p50 ${f(via.p50)} p99 ${f(via.p99)} | added p50 ${f(via.p50 - direct.p50)} p99 ${f(via.p99 - direct.p99)}`,
  );
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
  // An HTTPS origin with its own CA (trusted by the proxy for inspected hosts, and by the client for tunnels).
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: stateDir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=bench CA', '-keyout', 'up-ca.key', '-out', 'up-ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'); // prettier-ignore
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=tunnel.test',
    '-keyout', 'srv.key', '-out', 'srv.csr'); // prettier-ignore
  await writeFile(
    join(stateDir, 'ext.cnf'),
    'subjectAltName=DNS:tunnel.test,DNS:inspect.test,DNS:localhost\n',
  );
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'up-ca.pem', '-CAkey', 'up-ca.key', '-CAcreateserial', '-days', '1',
    '-out', 'srv.pem', '-extfile', 'ext.cnf'); // prettier-ignore
  const upCa = await readFile(join(stateDir, 'up-ca.pem'));
  const tlsOrigin = https.createServer(
    { key: await readFile(join(stateDir, 'srv.key')), cert: await readFile(join(stateDir, 'srv.pem')) },
    (_req, res) => res.end(BODY),
  );
  let upstreamHandshakes = 0;
  // Only the proxy's own connections for inspected hosts carry this SNI (the direct baseline says localhost).
  tlsOrigin.on('secureConnection', (s: { servername?: string | false }) => {
    if (s.servername === 'inspect.test') upstreamHandshakes++;
  });
  await new Promise<void>((r) => tlsOrigin.listen(0, '127.0.0.1', () => r()));
  const tlsPort = (tlsOrigin.address() as AddressInfo).port;
  const manager = new EgressManager({
    config: EgressConfig.parse({ tls: { upstreamCaFiles: [join(stateDir, 'up-ca.pem')] } }),
    stateDir,
    logger: silent,
    clock: { now: () => Date.now() },
    sink: () => {},
    upstreamDns: [],
  });
  const base = {
    dnsHosts: {
      'origin.test': '127.0.0.1',
      'later.test': '127.0.0.1',
      'tunnel.test': '127.0.0.1',
      'inspect.test': '127.0.0.1',
    },
    hostAccess: [
      { address: '127.0.0.1', port },
      { address: '127.0.0.1', port: tlsPort },
    ],
    http: [
      {
        layer: 'project',
        at: 'bench',
        rules: [{ host: 'inspect.test', methods: ['GET' as const], index: 0 }],
      },
    ],
  };
  const tlsHosts = [
    { host: 'tunnel.test', ports: [tlsPort] },
    { host: 'inspect.test', ports: [tlsPort] },
  ];
  try {
    await manager.prepare(
      'sbx_bench',
      buildEgressPolicy({ allow: [{ host: 'origin.test', ports: [port] }, ...tlsHosts], ...base }),
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

    const proxyAt = { host: '127.0.0.1', port: manager.state('sbx_bench')!.proxyPort };
    const sandboxCa = await readFile(manager.trust('sbx_bench').caCert);
    const ca = [upCa, sandboxCa];
    const directTls = (keep: boolean) => httpsLatency(`https://localhost:${tlsPort}/`, undefined, ca, keep);
    console.log(`HTTPS GET ${BODY.length} B, ${N} sequential requests (ms):`);
    const dKeep = stats(await directTls(true));
    row(
      'CONNECT tunnel, kept-alive',
      dKeep,
      stats(await httpsLatency(`https://tunnel.test:${tlsPort}/`, proxyAt, ca, true)),
    );
    row(
      'inspected, kept-alive',
      dKeep,
      stats(await httpsLatency(`https://inspect.test:${tlsPort}/`, proxyAt, ca, true)),
    );
    // New connections are measured interleaved (direct, tunnel, inspected, direct, …): on a shared, loaded host
    // the three series then meet the same load, and the paired differences are printed too.
    const nNew = Math.min(N, 200);
    const series = { direct: [] as number[], tunnel: [] as number[], inspected: [] as number[] };
    const before = upstreamHandshakes;
    for (let i = 0; i < nNew + 10; i++) {
      const d = await httpsLatency(`https://localhost:${tlsPort}/`, undefined, ca, false, 1, 0);
      const t = await httpsLatency(`https://tunnel.test:${tlsPort}/`, proxyAt, ca, false, 1, 0);
      const s = await httpsLatency(`https://inspect.test:${tlsPort}/`, proxyAt, ca, false, 1, 0);
      if (i < 10) continue;
      series.direct.push(d[0]!);
      series.tunnel.push(t[0]!);
      series.inspected.push(s[0]!);
    }
    const dNew = stats(series.direct);
    row('CONNECT tunnel, new connection', dNew, stats(series.tunnel));
    row('inspected, new connection', dNew, stats(series.inspected));
    const paired = (xs: number[]) => stats(xs.map((x, i) => x - series.direct[i]!));
    const pt = paired(series.tunnel);
    const pi = paired(series.inspected);
    console.log(
      `  paired added (each new connection minus the direct one next to it): tunnel p50 ${pt.p50.toFixed(3)} ` +
        `p99 ${pt.p99.toFixed(3)} | inspected p50 ${pi.p50.toFixed(3)} p99 ${pi.p99.toFixed(3)}`,
    );
    console.log(
      `  (${nNew + 10} new inspected connections: ${upstreamHandshakes - before} proxy handshakes upstream; ` +
        `TLS sessions resumed by any client: ${resumedSessions})`,
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
        ...tlsHosts,
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
    tlsOrigin.closeAllConnections();
    tlsOrigin.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
