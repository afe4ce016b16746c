import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import dnsPacket, { type Answer, type Packet, type Question } from 'dns-packet';
import { newId, type Clock, type Logger } from '../shared/index.js';
import type { DecisionSink } from './decisions.js';
import { egressErrors } from './errors.js';
import { HostAllowlist } from './match.js';
import type { EgressPolicy } from './policy.js';

/**
 * The embedded allowlisting resolver of one sandbox (UDP and TCP). It answers only names the sandbox's policy
 * allows: static records first, then the upstream resolvers; every other name is NXDOMAIN, whatever its type, so
 * TXT/NULL/ANY queries under an unlisted domain carry nothing out. Every query is one decision.
 *
 * One instance per sandbox, listening on its own loopback endpoints: the sandbox's queries arrive there through the
 * DNAT rule of its nftables ruleset, Squid's on a 127.N.x.y:53 address. Per-sandbox listeners keep attribution
 * certain (no guessing the sandbox from a NATed source address).
 */

export interface Endpoint {
  address: string;
  port: number;
}

export interface AllowlistResolverOptions {
  sandboxId: string;
  policy: EgressPolicy;
  upstreams: Endpoint[];
  sink: DecisionSink;
  logger: Logger;
  clock: Clock;
  /** How long to wait for an upstream answer. */
  upstreamTimeoutMs?: number;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODE;

/** Types that exist to move bulk data or whole zones: refused even for allowed names. */
const REFUSED_TYPES = new Set(['ANY', 'AXFR', 'IXFR', 'MAILA', 'MAILB']);

export class AllowlistResolver {
  private allowlist: HostAllowlist;
  private staticHosts: Map<string, string>;
  private readonly udp: UdpSocket[] = [];
  private readonly tcp: Server[] = [];
  private readonly connections = new Set<Socket>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: AllowlistResolverOptions) {
    this.allowlist = HostAllowlist.fromPolicy(opts.policy);
    this.staticHosts = staticMap(opts.policy);
    this.timeoutMs = opts.upstreamTimeoutMs ?? 2000;
  }

  /** Hot reload: the next query is answered under the new policy. */
  update(policy: EgressPolicy): void {
    this.allowlist = HostAllowlist.fromPolicy(policy);
    this.staticHosts = staticMap(policy);
  }

  /** Binds UDP and TCP on every endpoint; port 0 picks a free one (the same for UDP and TCP). */
  async listen(endpoints: Endpoint[]): Promise<Endpoint[]> {
    const bound: Endpoint[] = [];
    try {
      for (const ep of endpoints) bound.push(await this.listenOne(ep));
    } catch (err) {
      await this.close();
      throw egressErrors.create(
        'EGRESS_DNS',
        `the sandbox resolver could not listen on ${endpoints.map((e) => `${e.address}:${e.port}`).join(', ')}: ${(err as Error).message}`,
        { sandboxId: this.opts.sandboxId },
        { cause: err },
      );
    }
    return bound;
  }

  /** Binds UDP and TCP on one more endpoint; throws the bind error as is (EADDRINUSE: the caller tries another). */
  bind(ep: Endpoint): Promise<Endpoint> {
    return this.listenOne(ep);
  }

  private async listenOne(ep: Endpoint, attempt = 0): Promise<Endpoint> {
    const tcp = createServer((sock) => this.serveTcp(sock));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(ep.port, ep.address, () => resolve());
    });
    const port = (tcp.address() as { port: number }).port;
    const udp = createSocket(isIP(ep.address) === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, ep.address, () => resolve());
      });
    } catch (err) {
      tcp.close();
      udp.close();
      // The TCP port was free but its UDP twin was not: pick another when the caller let us choose.
      if (ep.port === 0 && attempt < 5) return this.listenOne(ep, attempt + 1);
      throw err;
    }
    udp.on('message', (msg, rinfo) => void this.serveUdp(udp, msg, rinfo));
    udp.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'dns udp socket error'));
    this.udp.push(udp);
    this.tcp.push(tcp);
    return { address: ep.address, port };
  }

  async close(): Promise<void> {
    for (const s of this.udp.splice(0)) s.close();
    for (const c of this.connections) c.destroy();
    await Promise.all(this.tcp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private async serveUdp(socket: UdpSocket, msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    const reply = await this.answer(msg, 'udp', `${rinfo.address}:${rinfo.port}`);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  }

  private serveTcp(sock: Socket): void {
    this.connections.add(sock);
    sock.setTimeout(10_000, () => sock.destroy());
    let buffered = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        void this.answer(msg, 'tcp', `${sock.remoteAddress}:${sock.remotePort}`).then((reply) => {
          if (!reply || sock.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([head, reply]));
        });
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.connections.delete(sock));
  }

  /** The whole decision for one query message; undefined when it is not even a DNS header (dropped). */
  async answer(msg: Buffer, transport: 'udp' | 'tcp', client: string): Promise<Buffer | undefined> {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      if (msg.length < 12) return undefined;
      return header(msg.readUInt16BE(0), RCODE.FORMERR);
    }
    if (query.type !== 'query') return undefined;
    const q = query.questions?.[0];
    if (!q || (query.questions?.length ?? 0) !== 1) return this.reply(query, 'FORMERR');
    const name = q.name.toLowerCase().replace(/\.$/, '');
    const decide = (verdict: 'allow' | 'deny', reason: string, rcode: Rcode, answers: Answer[] = []) => {
      this.opts.sink({
        id: newId('dec'),
        sandboxId: this.opts.sandboxId,
        time: this.opts.clock.now(),
        layer: 'dns',
        verdict,
        reason,
        target: name,
        kind: q.type,
        detail: { transport, client, rcode },
      });
      return this.reply(query, rcode, answers);
    };
    if (q.class !== 'IN') return decide('deny', 'DNS_CLASS_REFUSED', 'REFUSED');
    if (!this.allowlist.allows(name)) return decide('deny', 'DNS_NOT_ALLOWED', 'NXDOMAIN');
    if (REFUSED_TYPES.has(q.type)) return decide('deny', 'DNS_TYPE_REFUSED', 'REFUSED');
    const fixed = this.staticHosts.get(name);
    if (fixed !== undefined) return decide('allow', 'DNS_STATIC', 'NOERROR', staticAnswers(q, fixed));
    const upstream = await this.forward(msg, transport === 'tcp');
    if (!upstream) return decide('deny', 'DNS_UPSTREAM_FAILED', 'SERVFAIL');
    decide('allow', 'DNS_ALLOWED', 'NOERROR');
    upstream.writeUInt16BE(query.id ?? 0, 0);
    return upstream;
  }

  private reply(query: Packet, rcode: Rcode, answers: Answer[] = []): Buffer {
    return dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags:
        dnsPacket.RECURSION_AVAILABLE | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | RCODE[rcode],
      questions: query.questions ?? [],
      answers,
    });
  }

  /** Forwards the raw query to the upstreams in turn; TCP when the client used TCP or UDP came back truncated. */
  private async forward(msg: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    for (const up of this.opts.upstreams) {
      try {
        let answer = tcp ? await this.askTcp(up, msg) : await this.askUdp(up, msg);
        if (!tcp && (answer.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) !== 0)
          answer = await this.askTcp(up, msg);
        return answer;
      } catch (err) {
        this.opts.logger.warn(
          { upstream: `${up.address}:${up.port}`, err: (err as Error).message },
          'dns upstream failed',
        );
      }
    }
    return undefined;
  }

  private askUdp(up: Endpoint, msg: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = createSocket(isIP(up.address) === 6 ? 'udp6' : 'udp4');
      const id = msg.readUInt16BE(0);
      const timer = setTimeout(() => done(new Error('timeout')), this.timeoutMs);
      const done = (err?: Error, answer?: Buffer) => {
        clearTimeout(timer);
        sock.close();
        if (err || !answer) reject(err ?? new Error('no answer'));
        else resolve(answer);
      };
      sock.on('error', (err) => done(err));
      sock.on('message', (answer) => {
        if (answer.length >= 12 && answer.readUInt16BE(0) === id) done(undefined, Buffer.from(answer));
      });
      sock.send(msg, up.port, up.address);
    });
  }

  private askTcp(up: Endpoint, msg: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ host: up.address, port: up.port });
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => finish(new Error('timeout')), this.timeoutMs);
      const finish = (err?: Error, answer?: Buffer) => {
        clearTimeout(timer);
        sock.destroy();
        if (err || !answer) reject(err ?? new Error('no answer'));
        else resolve(answer);
      };
      sock.on('connect', () => {
        const head = Buffer.alloc(2);
        head.writeUInt16BE(msg.length);
        sock.write(Buffer.concat([head, msg]));
      });
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0))
          finish(undefined, buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      sock.on('error', (err) => finish(err));
      sock.on('close', () => finish(new Error('closed')));
    });
  }
}

function staticMap(policy: EgressPolicy): Map<string, string> {
  return new Map(Object.entries(policy.dnsHosts).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
}

function staticAnswers(q: Question, address: string): Answer[] {
  const family = isIP(address);
  if (q.type === 'A' && family === 4)
    return [{ type: 'A', name: q.name, ttl: 5, class: 'IN', data: address }];
  if (q.type === 'AAAA' && family === 6)
    return [{ type: 'AAAA', name: q.name, ttl: 5, class: 'IN', data: address }];
  return [];
}

function header(id: number, rcode: number): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(0x8000 | dnsPacket.RECURSION_AVAILABLE | rcode, 2);
  return buf;
}
