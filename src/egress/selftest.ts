import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import dnsPacket from 'dns-packet';
import type { EgressDecision } from './decisions.js';
import type { EgressManager } from './enforcer.js';
import { messageOf } from '../shared/index.js';

/**
 * The enforcement self-test, run from inside a sandbox (`aibox doctor --sandbox NAME`). Every "blocked" probe aims
 * at a canary the daemon runs on its own loopback (a DNS responder and a TCP listener): if enforcement were off the
 * canary would answer, and it counts what reaches it, so "blocked" means "nothing arrived", not merely "no answer".
 * Only the host's loopback (as the sandbox sees it) is ever addressed, plus the allowed host when asked to.
 */

export interface SelftestCheck {
  name: string;
  layer: 'egress';
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface SelftestReport {
  ok: boolean;
  sandbox: string;
  proxy: string;
  checks: SelftestCheck[];
}

export type SandboxExec = (argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/** Listens on loopback and counts every packet or connection: what a probe must never reach. */
export class Canary {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  hits = 0;
  udpPort = 0;
  tcpPort = 0;

  async start(address: string): Promise<void> {
    if (this.udp) return;
    const tcp = createServer((sock) => {
      this.hits++;
      sock.end('aibox-canary\n');
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, address, () => resolve());
    });
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, address, () => resolve());
    });
    udp.on('message', (msg, rinfo) => {
      this.hits++;
      try {
        const q = dnsPacket.decode(msg);
        const reply = dnsPacket.encode({ type: 'response', id: q.id ?? 0, questions: q.questions ?? [] });
        udp.send(reply, rinfo.port, rinfo.address);
      } catch {
        // not DNS: counted all the same
      }
    });
    this.tcp = tcp;
    this.udp = udp;
    this.tcpPort = (tcp.address() as { port: number }).port;
    this.udpPort = udp.address().port;
  }

  async close(): Promise<void> {
    this.udp?.close();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
    this.udp = undefined;
    this.tcp = undefined;
  }
}

export interface SelftestOptions {
  sandbox: string;
  sandboxId: string;
  manager: EgressManager;
  canary: Canary;
  exec: SandboxExec;
  /** Recent decisions, to check that a refusal's id reached the decision log. */
  findDecision: (id: string) => EgressDecision | undefined;
}

export async function runSelftest(opts: SelftestOptions): Promise<SelftestReport> {
  const { manager, sandboxId, canary } = opts;
  const state = manager.state(sandboxId);
  const { proxy } = manager.endpoints(sandboxId);
  const host = state!.sandboxHostAddress;
  const checks: SelftestCheck[] = [];
  const check = (name: string, ok: boolean, detail: string, fix?: string) =>
    checks.push({ name, layer: 'egress', ok, detail, ...(ok || !fix ? {} : { fix }) });
  const run = async (argv: string[]) => {
    try {
      return await opts.exec(argv);
    } catch (err) {
      return { exitCode: -1, stdout: '', stderr: messageOf(err) };
    }
  };
  const restart = 'Restart the sandbox (`aibox stop NAME && aibox start NAME`); report it if it persists.';

  try {
    const v = await manager.verify(sandboxId);
    check(
      'ruleset',
      true,
      `nftables table verified (default drop; ${v.deniedPackets} packets refused so far)`,
    );
  } catch (err) {
    check('ruleset', false, messageOf(err), restart);
  }

  const env = await run(['printenv', 'HTTP_PROXY']);
  check(
    'proxy variables',
    env.stdout.trim() === proxy,
    `HTTP_PROXY=${env.stdout.trim() || '(unset)'}`,
    restart,
  );

  const nx = await run(['dig', '+time=2', '+tries=1', 'aibox-selftest.invalid', 'A']);
  check(
    'unlisted name is NXDOMAIN',
    nx.stdout.includes('status: NXDOMAIN'),
    firstLine(nx.stdout, /status: \w+/) ?? (nx.stderr.trim() || 'no answer'),
    restart,
  );

  const before = canary.hits;
  const deny = await run([
    'curl',
    '-sS',
    '-i',
    '--max-time',
    '5',
    '-x',
    proxy,
    'http://aibox-selftest.invalid/',
  ]);
  const id = /decision: (dec_[0-9a-f]+)/.exec(deny.stdout)?.[1];
  await manager.flushDecisions(sandboxId);
  const logged = id !== undefined && opts.findDecision(id) !== undefined;
  check(
    'unlisted host refused by the proxy (403 with decision id)',
    /^HTTP\/1\.1 403/.test(deny.stdout) && logged,
    id
      ? `403, ${id}${logged ? ' in the decision log' : ' NOT in the decision log'}`
      : `no 403: ${deny.stderr.trim() || firstLine(deny.stdout) || 'no answer'}`,
    restart,
  );

  // Squid answers a refused CONNECT on its TLS-inspecting port with `200` and then serves the 403 page inside TLS
  // (with a certificate from the sandbox's CA): either form is a refusal, provided the page names the reason.
  const literal = await run([
    'curl',
    '-sS',
    '-k',
    '-w',
    '\n%{http_connect} %{http_code}',
    '--max-time',
    '5',
    '-x',
    proxy,
    // NO_PROXY lists the host address (for the gateways): override it so the probe does go through the proxy.
    '--noproxy',
    '',
    `https://${host}:${canary.tcpPort}/`,
  ]);
  const [connectCode, httpCode] = (literal.stdout.trim().split('\n').pop() ?? '').split(' ');
  check(
    'CONNECT to an IP address refused',
    connectCode === '403' ||
      (connectCode === '200' && httpCode === '403' && literal.stdout.includes('EGRESS_IP_LITERAL')),
    `proxy answered ${connectCode || 'nothing'}${connectCode === '200' ? ` then ${httpCode}` : ''}`,
    restart,
  );

  const direct = await run([
    'curl',
    '-sS',
    '--noproxy',
    '*',
    '--max-time',
    '3',
    `http://${host}:${canary.tcpPort}/`,
  ]);
  check(
    'direct TCP past the proxy blocked',
    direct.exitCode !== 0,
    direct.exitCode === 0 ? 'a direct connection got out' : 'refused',
    restart,
  );

  const udp = await run([
    'dig',
    '+time=1',
    '+tries=1',
    `@${host}`,
    '-p',
    String(canary.udpPort),
    'example.com',
  ]);
  check(
    'DNS to another server blocked',
    !udp.stdout.includes('status: NOERROR'),
    udp.stdout.includes('status: NOERROR') ? 'another DNS server answered' : 'no answer',
    restart,
  );

  const v6 = await run([
    'curl',
    '-sS',
    '--noproxy',
    '*',
    '--max-time',
    '3',
    '-g',
    `http://[fd00::2]:${canary.tcpPort}/`,
  ]);
  check(
    'IPv6 blocked',
    v6.exitCode !== 0,
    v6.exitCode === 0 ? 'an IPv6 connection got out' : 'refused',
    restart,
  );

  const arrived = canary.hits - before;
  check(
    'nothing reached the canary',
    arrived === 0,
    arrived === 0
      ? 'the daemon-side canary saw no packet from the probes'
      : `${arrived} probe(s) reached the host canary`,
    restart,
  );

  const allowed = pickAllowed(manager, sandboxId);
  if (allowed) {
    const r = await run([
      'curl',
      '-sS',
      '-k',
      '-o',
      '/dev/null',
      '-D',
      '-',
      '-w',
      '%{http_code}',
      '--max-time',
      '10',
      '-x',
      proxy,
      allowed,
    ]);
    const refused = r.stdout.includes('X-Squid-Error');
    const code = r.stdout.trim().split('\n').pop() ?? '';
    check(
      'allowed host reachable through the proxy',
      !refused && code !== '000' && code !== '',
      refused
        ? `the proxy refused ${allowed}`
        : code === '000'
          ? `${allowed}: ${r.stderr.trim()}`
          : `${allowed}: HTTP ${code}`,
      'Check that the host is up and resolvable from the aibox host (`dig NAME` there).',
    );
  }
  return { ok: checks.every((c) => c.ok), sandbox: opts.sandbox, proxy, checks };
}

/** The first exact allowed host, as a URL (https unless a non-443 port is listed). */
function pickAllowed(manager: EgressManager, sandboxId: string): string | undefined {
  const rule = manager.policy(sandboxId)?.allow.find((r) => !r.host.startsWith('*.'));
  if (!rule) return undefined;
  const port = rule.ports[0];
  if (port === undefined || port === 443) return `https://${rule.host}/`;
  return `http://${rule.host}:${port}/`;
}

function firstLine(text: string, re?: RegExp): string | undefined {
  if (re) return re.exec(text)?.[0];
  return text.split('\n').find(Boolean);
}
