import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { answerOf, writeRawAnswer } from './contract.js';

/** The only routes that accept a WebSocket upgrade. */
const WEBSOCKET_ROUTES = [/^\/v1\/sessions\/[^/]+\/exec\/ws$/, /^\/v1\/sandboxes\/[^/]+\/exec\/ws$/];

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Puts a gate in front of @fastify/websocket's upgrade listener:
 * - an upgrade on any other route, or one that is not a well-formed WebSocket handshake, is refused with an answer
 *   in the error contract (never "accepted then closed");
 * - an upgrade the router or a hook refuses (bad URL, over-long name, unknown or foreign sandbox) has its socket
 *   closed once the error answer is written: Node hands upgrade sockets over to the listener and never closes
 *   them itself, so each refused upgrade used to keep a file descriptor forever.
 */
export function guardUpgrades(server: Server): void {
  const inner = server.listeners('upgrade') as UpgradeListener[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const refusal = inner.length === 0 ? 'WebSockets are not served here' : refusalOf(req);
    if (refusal) {
      writeRawAnswer(socket, answerOf('API_UPGRADE_REFUSED', refusal));
      return;
    }
    for (const listener of inner) listener.call(server, req, socket, head);
    // The listener answers through a ServerResponse bound to this socket; when that answer ends, no upgrade
    // happened (a successful one bypasses it), so the connection is done.
    const response = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    response?.once('finish', () => endSoon(socket));
  });
}

function refusalOf(req: IncomingMessage): string | undefined {
  const pathname = (req.url ?? '').split('?')[0] ?? '';
  if (!WEBSOCKET_ROUTES.some((r) => r.test(pathname))) return `no WebSocket at ${pathname.slice(0, 200)}`;
  if (req.method !== 'GET') return 'a WebSocket upgrade must be a GET';
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
    return 'only "Upgrade: websocket" is supported';
  if (req.headers['sec-websocket-version'] !== '13') return 'only WebSocket version 13 is supported';
  const key = req.headers['sec-websocket-key'] ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return 'the Sec-WebSocket-Key header is missing or invalid';
  return undefined;
}

function endSoon(socket: Duplex): void {
  socket.end();
  const timer = setTimeout(() => socket.destroy(), 2_000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
