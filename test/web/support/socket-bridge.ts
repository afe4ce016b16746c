/**
 * A loopback HTTP front for a real aiboxd's unix socket, for browser tests before (or without) the daemon's own
 * network listener: the real dashboard server (login, session cookie, CSRF, static files) in front, and every /v1
 * request and WebSocket upgrade passed through to the socket (where the daemon sees the test, root, as caller).
 * Only the token check is a stand-in: one fixed token.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import { AiboxError } from '../../../src/shared/errors.js';
import { installDashboard } from '../../../src/daemon/dashboard/index.js';
import { cookieValue } from '../../../src/daemon/dashboard/sessions.js';

export const BRIDGE_TOKEN = 'aibox_tok_bridge_00112233445566778899';

const HOP = new Set([
  'cookie',
  'authorization',
  'host',
  'connection',
  'content-length',
  'origin',
  'x-aibox-csrf',
]);

export async function startSocketBridge(socketPath: string, webDir: string) {
  const app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const e = err as AiboxError;
    return reply
      .status(e.status ?? (err as { statusCode?: number }).statusCode ?? 500)
      .send({ error: { code: e.code ?? 'BRIDGE', message: e.message, hint: e.hint ?? '' } });
  });
  const authenticate = (token: string) => {
    if (token !== BRIDGE_TOKEN)
      throw new AiboxError('TOKEN_INVALID', 'the bearer token is not valid', { status: 401, hint: 'bridge' });
    return { subject: 'root (bridge)' };
  };
  const sessions = await installDashboard(app, { webDir, authenticate, secure: false });
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/v1/') && request.headers.authorization !== `Bearer ${BRIDGE_TOKEN}`)
      throw new AiboxError('TOKEN_MISSING', 'no bearer token', { status: 401, hint: 'bridge' });
  });

  app.all('/v1/*', async (request, reply) => {
    reply.hijack();
    const headers: http.OutgoingHttpHeaders = { host: 'localhost' };
    for (const [k, v] of Object.entries(request.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
    // The dashboard sends JSON bodies only: parsed by Fastify (the login route needs that), sent on as JSON.
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    if (body?.length) headers['content-length'] = body.length;
    const upstream = http.request(
      { socketPath, method: request.method, path: request.url, headers },
      (res) => {
        reply.raw.writeHead(res.statusCode ?? 502, res.headers);
        res.pipe(reply.raw);
      },
    );
    upstream.on('error', () => reply.raw.destroy());
    // The browser went away (an SSE stream closed): stop the request to the daemon too.
    reply.raw.once('close', () => upstream.destroy());
    upstream.end(body?.length ? body : undefined);
  });

  // WebSockets (the terminal): the same session and origin checks as the dashboard's hook, then a raw pipe.
  app.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const session = sessions.get(cookieValue(req.headers.cookie, 'aibox_session'));
    if (!session || req.headers.origin !== `http://${req.headers.host}` || !req.url?.startsWith('/v1/')) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const lines = [`${req.method} ${req.url} HTTP/1.1`, 'host: localhost'];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!;
      if (!['cookie', 'host', 'origin'].includes(k.toLowerCase()))
        lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
    }
    const up = net.connect(socketPath, () => {
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
