import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { UnixWebSocket } from '../../src/client/websocket.js';

/** A ws server on a unix socket; `onConnection` scripts what it does with each client. */
async function serve(dir: string, onConnection: (ws: WebSocket) => void) {
  const socketPath = path.join(dir, `${Math.random().toString(16).slice(2)}.sock`);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => res.writeHead(404).end('{"error":"nope"}'));
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== '/ws') return socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { socketPath, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function collect(ws: UnixWebSocket) {
  const messages: { data: Buffer; binary: boolean }[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => messages.push({ data, binary }));
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  return { messages, closed };
}

describe('UnixWebSocket (the exec stream client)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'aibox-ws-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('exchanges text and binary messages of every length encoding, both ways, masked as a client must', async () => {
    const sizes = [0, 125, 126, 65535, 65536, 300_000];
    const received: Buffer[] = [];
    const server = await serve(dir, (ws) => {
      ws.on('message', (data: Buffer, binary) => {
        received.push(data);
        if (!binary) for (const n of sizes) ws.send(Buffer.alloc(n, n % 251));
        else if (received.length === 1 + sizes.length) ws.close(1000);
      });
    });
    const ws = new UnixWebSocket(server.socketPath, '/ws');
    const { messages, closed } = collect(ws);
    ws.on('open', () => {
      ws.send('{"type":"start"}');
      for (const n of sizes) ws.send(Buffer.alloc(n, 7));
    });
    await closed;
    await server.close();
    expect(messages.map((m) => [m.data.length, m.binary])).toEqual(sizes.map((n) => [n, true]));
    expect(messages.every((m, i) => m.data.every((b) => b === sizes[i]! % 251))).toBe(true);
    expect(received[0]!.toString()).toBe('{"type":"start"}');
    expect(received.slice(1).map((b) => b.length)).toEqual(sizes);
    expect(received.slice(1).every((b) => b.every((x) => x === 7))).toBe(true);
  });

  it('reassembles fragmented messages and answers pings', async () => {
    let pong: Buffer | undefined;
    const server = await serve(dir, (ws) => {
      ws.on('pong', (data) => (pong = data));
      ws.ping('are-you-there');
      ws.send('hel', { fin: false });
      ws.send('lo', { fin: true });
      setTimeout(() => ws.close(), 100);
    });
    const ws = new UnixWebSocket(server.socketPath, '/ws');
    const { messages, closed } = collect(ws);
    await closed;
    await server.close();
    expect(messages.map((m) => [m.data.toString(), m.binary])).toEqual([['hello', false]]);
    expect(pong?.toString()).toBe('are-you-there');
  });

  it('delivers nothing while paused, then everything in order', async () => {
    const server = await serve(dir, (ws) => {
      for (let i = 0; i < 50; i++) ws.send(Buffer.from([i]));
      ws.close();
    });
    const ws = new UnixWebSocket(server.socketPath, '/ws');
    const { messages, closed } = collect(ws);
    ws.on('message', () => {
      if (messages.length === 10) {
        ws.pause();
        setTimeout(() => {
          expect(messages.length).toBe(10);
          ws.resume();
        }, 50);
      }
    });
    await closed;
    await server.close();
    expect(messages.map((m) => m.data[0])).toEqual([...Array(50).keys()]);
  });

  it('hands a refused upgrade over as `refused`, and a missing socket as an error then close', async () => {
    const server = await serve(dir, () => {});
    const refused = new UnixWebSocket(server.socketPath, '/not-ws');
    const status = await new Promise<number>((resolve) =>
      refused.on('refused', (code: number) => resolve(code)),
    );
    expect(status).toBe(400);
    await server.close();
    const missing = new UnixWebSocket(path.join(dir, 'none.sock'), '/ws');
    const events: string[] = [];
    missing.on('error', (err: NodeJS.ErrnoException) => events.push(`error ${err.code}`));
    await new Promise<void>((resolve) => missing.on('close', () => resolve()));
    expect(events).toEqual(['error ENOENT']);
  });
});
