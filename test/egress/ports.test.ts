import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { PortReservations, listenerHeldBy } from '../../src/egress/index.js';
import { proxyPortRange } from '../../src/egress/ports.js';

describe('proxy port reservations', () => {
  it('never hands out a port another start of this daemon holds, and frees it on release', async () => {
    const ports = new PortReservations();
    const got = await Promise.all(Array.from({ length: 200 }, () => ports.reserve('127.0.0.1')));
    expect(new Set(got).size).toBe(200);
    expect(ports.size).toBe(200);
    for (const p of got) ports.release('127.0.0.1', p);
    expect(ports.size).toBe(0);
  });

  it('hands out ports outside the kernel ephemeral range, which outgoing connections and listen(0) use', async () => {
    const range = await proxyPortRange();
    const [low, high] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
      .trim()
      .split(/\s+/)
      .map(Number);
    expect(range).toBeDefined();
    const ports = new PortReservations();
    for (let i = 0; i < 50; i++) {
      const p = await ports.reserve('127.0.0.1');
      expect(p >= low! && p <= high!, `port ${p} in ${low}-${high}`).toBe(false);
      expect(p).toBeGreaterThanOrEqual(range![0]);
      expect(p).toBeLessThanOrEqual(range![1]);
    }
  });

  it('skips a port something else listens on', async () => {
    const range = (await proxyPortRange())!;
    // 200 of its ~12,000 ports taken: 600 picks land on one of them with near certainty, and must move on.
    const squatters = [];
    for (let p = range[0]; p < range[0] + 200; p++) {
      const srv = createServer();
      const ok = await new Promise<boolean>((r) => {
        srv.once('error', () => r(false));
        srv.listen(p, '127.0.0.1', () => r(true));
      });
      if (ok) squatters.push({ srv, p });
    }
    try {
      const taken = new Set(squatters.map((s) => s.p));
      const ports = new PortReservations();
      for (let i = 0; i < 600; i++) expect(taken.has(await ports.reserve('127.0.0.1'))).toBe(false);
    } finally {
      for (const s of squatters) s.srv.close();
    }
  });

  it('keeps an adopted port held', async () => {
    const ports = new PortReservations();
    ports.hold('127.0.0.1', 40_000);
    expect(ports.size).toBe(1);
    const got = await Promise.all(Array.from({ length: 50 }, () => ports.reserve('127.0.0.1')));
    expect(got).not.toContain(40_000);
  });
});

describe('listenerHeldBy', () => {
  it('tells the process holding a listening socket from one that does not', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    try {
      expect(await listenerHeldBy([process.pid], '127.0.0.1', port)).toBe(true);
      // pid 1 (init) does not hold it; a port nobody listens on is held by no one
      expect(await listenerHeldBy([1], '127.0.0.1', port)).toBe(false);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    expect(await listenerHeldBy([process.pid], '127.0.0.1', port)).toBe(false);
  });
});
