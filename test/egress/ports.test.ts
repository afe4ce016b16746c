import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PortReservations, listenerHeldBy } from '../../src/egress/index.js';

describe('proxy port reservations', () => {
  it('never hands out a port another start of this daemon holds, and frees it on release', async () => {
    const ports = new PortReservations();
    const got = await Promise.all(Array.from({ length: 200 }, () => ports.reserve('127.0.0.1')));
    expect(new Set(got).size).toBe(200);
    expect(ports.size).toBe(200);
    for (const p of got) ports.release('127.0.0.1', p);
    expect(ports.size).toBe(0);
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
