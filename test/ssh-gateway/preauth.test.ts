import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/shared/index.js';
import {
  SshGateway,
  SshGatewayConfig,
  type SandboxExecutor,
  type SshAuditEvent,
} from '../../src/ssh-gateway/index.js';

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};
const nobody: SandboxExecutor = {
  find: () => Promise.resolve(undefined),
  exec: () => Promise.reject(new Error('no sandbox')),
};

/** A raw TCP client that never authenticates (it may send the SSH identification line, then stalls). */
interface Held {
  socket: Socket;
  closed: Promise<number>;
  banner: Promise<string>;
}

function hold(port: number, localAddress = '127.0.0.1', sayHello = false): Promise<Held> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let banner = '';
    let gotBanner: (s: string) => void = () => undefined;
    const bannerP = new Promise<string>((r) => (gotBanner = r));
    socket.on('data', (d: Buffer) => {
      banner += d.toString('latin1');
      if (banner.includes('\n')) gotBanner(banner.split('\n')[0]!);
    });
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
    socket.once('error', () => undefined);
    socket.once('connect', () => {
      if (sayHello) socket.write('SSH-2.0-OpenSSH_9.6 slowloris\r\n');
      resolve({ socket, closed, banner: bannerP });
    });
    socket.once('error', reject);
  });
}

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe('SSH gateway: unauthenticated connections are bounded', () => {
  let stateDir: string;
  let gateway: SshGateway;
  let port: number;
  const audit: SshAuditEvent[] = [];
  const held: Held[] = [];

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'aibox-ssh-preauth-'));
    gateway = new SshGateway({
      config: SshGatewayConfig.parse({
        port: 0,
        maxUnauthenticated: 4,
        maxUnauthenticatedPerAddress: 2,
        authTimeoutMs: 600,
      }),
      stateDir,
      executor: nobody,
      audit: { record: (e) => audit.push(e) },
      logger: silent,
      clock: { now: () => Date.now() },
      policy: () => Promise.resolve({ allow: true }),
    });
    port = (await gateway.start()).port;
  });
  afterEach(async () => {
    for (const h of held.splice(0)) h.socket.destroy();
    await gateway.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('closes a connection beyond the per-address limit at once, before it can hold a slot', async () => {
    held.push(await hold(port), await hold(port, '127.0.0.1', true));
    const third = await hold(port);
    held.push(third);
    expect(await within(third.closed, 300)).not.toBe('pending');
    // The first two are still open (their timeout has not run out yet).
    expect(await within(held[0]!.closed, 50)).toBe('pending');
  });

  it('caps unauthenticated connections overall, whatever loopback address they come from', async () => {
    held.push(await hold(port, '127.0.0.2'), await hold(port, '127.0.0.2'));
    held.push(await hold(port, '127.0.0.3'), await hold(port, '127.0.0.3'));
    const fifth = await hold(port, '127.0.0.4');
    held.push(fifth);
    expect(await within(fifth.closed, 300)).not.toBe('pending');
  });

  it('drops a client that does not authenticate within the auth timeout, and frees its slot', async () => {
    const silentOne = await hold(port);
    const talker = await hold(port, '127.0.0.1', true);
    held.push(silentOne, talker);
    expect(await talker.banner).toMatch(/^SSH-2\.0-aibox/);
    const t1 = await within(silentOne.closed, 3000);
    const t2 = await within(talker.closed, 3000);
    expect(t1).not.toBe('pending');
    expect(t2).not.toBe('pending');
    expect(t1 as number).toBeGreaterThanOrEqual(500);
    // The slots are free again: a new client gets the server's banner.
    const next = await hold(port, '127.0.0.1', true);
    held.push(next);
    expect(await within(next.banner, 1000)).toMatch(/^SSH-2\.0-aibox/);
    expect(audit.some((e) => e.action === 'ssh.auth' && /timeout|limit/i.test(e.reason ?? ''))).toBe(true);
  });
});
