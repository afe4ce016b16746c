import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export const TOKEN = `aibox_tok_0123456789ab_${'A'.repeat(43)}`;

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

/** A stand-in for aiboxd's session routes, enough to check what the SDK sends and how it reads answers. */
export async function fakeDaemon() {
  const requests: Recorded[] = [];
  const sessions = new Map<string, Map<string, Buffer>>();
  let nextError: { status: number; code: string; headers?: Record<string, string> } | undefined;
  const report = (id: string) => ({
    id,
    state: 'running',
    profile: 'session',
    createdAt: 't0',
    lastActivityAt: 't0',
    expiresAt: 't1',
    idleExpiresAt: 't1',
    owner: 'tok_0123456789ab',
    warm: false,
  });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = Buffer.concat(chunks);
      const query = Object.fromEntries(url.searchParams);
      requests.push({ method: req.method ?? '', path: url.pathname, query, body, headers: req.headers });
      const send = (
        status: number,
        value: unknown,
        type = 'application/json',
        headers: Record<string, string> = {},
      ) => {
        res.writeHead(status, { 'content-type': type, ...headers });
        res.end(Buffer.isBuffer(value) ? value : JSON.stringify(value));
      };
      const fail = (status: number, code: string, headers?: Record<string, string>) =>
        send(
          status,
          { error: { code, message: code.toLowerCase(), hint: 'a hint', details: { x: 1 } } },
          'application/json',
          headers,
        );
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return fail(401, 'TOKEN_INVALID');
      if (nextError) {
        const e = nextError;
        nextError = undefined;
        return fail(e.status, e.code, e.headers);
      }
      const json =
        body.length && req.headers['content-type'] === 'application/json'
          ? (JSON.parse(body.toString()) as Record<string, unknown>)
          : {};
      const parts = url.pathname.split('/').filter(Boolean);
      if (url.pathname === '/v1/sessions' && req.method === 'POST') {
        const id = `ses_${sessions.size.toString(16).padStart(12, '0')}`;
        sessions.set(id, new Map());
        return send(201, report(id));
      }
      if (url.pathname === '/v1/sessions' && req.method === 'GET')
        return send(200, { sessions: [...sessions.keys()].map(report) });
      if (url.pathname === '/create_session') {
        const id = `ses_${sessions.size.toString(16).padStart(12, '0')}`;
        sessions.set(id, new Map());
        return send(200, { session_id: id });
      }
      if (url.pathname === '/execute')
        return send(200, { exit_code: 0, output: `ran ${String(json.command)}` });
      if (url.pathname === '/cleanup') return send(200, { session_id: json.session_id, status: 'cleaned' });
      const id = parts[2] ?? '';
      const files = sessions.get(id);
      if (!files) return fail(404, 'SESSION_NOT_FOUND');
      const rest = parts.slice(3).join('/');
      if (rest === '' && req.method === 'DELETE') {
        sessions.delete(id);
        return send(200, { removed: id });
      }
      if (rest === '' && req.method === 'GET') return send(200, report(id));
      if (rest === 'exec') {
        const cmd = json.cmd as string[];
        return send(200, {
          exitCode: 0,
          stdout: cmd.join(' '),
          stderr: '',
          truncated: false,
          timedOut: false,
          durationMs: 3,
        });
      }
      if (rest === 'files' && req.method === 'PUT') {
        files.set(query.path ?? '', body);
        return send(200, { path: query.path, bytes: body.length });
      }
      if (rest === 'files' && req.method === 'GET') {
        const data = files.get(query.path ?? '');
        return data ? send(200, data, 'application/octet-stream') : fail(404, 'SESSION_PATH_NOT_FOUND');
      }
      if (rest === 'files' && req.method === 'DELETE') return send(200, { removed: query.path });
      if (rest === 'files/list') {
        const entries = [...files].map(([p, c]) => ({
          name: p,
          path: p,
          type: 'file',
          size: c.length,
          mode: 420,
          mtime: 't',
        }));
        return send(200, { path: query.path, entries });
      }
      if (rest === 'files/tar' && req.method === 'PUT')
        return send(200, { path: query.path, files: 1, directories: 0, bytes: body.length });
      if (rest === 'files/tar' && req.method === 'GET')
        return send(200, Buffer.from('TARBYTES'), 'application/x-tar');
      return fail(404, 'API_ROUTE_NOT_FOUND');
    });
  });
  // exec/ws: echoes stdin to stdout upper-cased, says the argv on stderr, exits 7 at stdin EOF
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"TOKEN_INVALID","message":"no","hint":"h"}}',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let started = false;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!started) {
          started = true;
          const start = JSON.parse(data.toString()) as { type: string; spec: { cmd: string[] } };
          if (start.spec.cmd[0] === 'denied') {
            ws.send(
              JSON.stringify({ type: 'error', error: { code: 'POLICY_DENIED', message: 'no', hint: 'h' } }),
            );
            ws.close(1000);
            return;
          }
          ws.send(Buffer.concat([Buffer.from([2]), Buffer.from(start.spec.cmd.join(' '))]));
          return;
        }
        if (isBinary && data[0] === 0)
          ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(data.subarray(1).toString().toUpperCase())]));
        else if (!isBinary && (JSON.parse(data.toString()) as { type: string }).type === 'stdin-eof') {
          ws.send(JSON.stringify({ type: 'exit', exitCode: 7 }));
          ws.close(1000);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    sessions,
    failNext(status: number, code: string, headers?: Record<string, string>) {
      nextError = { status, code, ...(headers ? { headers } : {}) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
