import net from 'node:net';

// HTTP/1.1 over the unix socket with node:net, one request per connection (Connection: close). node:http costs the
// CLI ~15 ms of CPU to load and set up on every start, more than the rest of `aibox version`; the answers here are
// small and framed by content-length (or chunked), which is all this reads.

export interface Head {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
}

export interface Answer {
  head: Head;
  body: Buffer;
  /** False when the connection ended before the body the head announced. */
  complete: boolean;
}

/** Sends one request and resolves with the whole answer; rejects with the socket's own error (ENOENT, …). */
export function send(
  socketPath: string,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      socket.write(requestHead(method, path, { ...headers, connection: 'close' }));
      if (body) socket.write(body);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const answer = readAnswer(Buffer.concat(chunks));
      if (answer) resolve(answer);
      else reject(Object.assign(new Error('the answer is not HTTP/1.1'), { code: 'EPROTO' }));
    });
  });
}

export function requestHead(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'host: aiboxd'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The status line and headers of `data`, and where the body starts; undefined until the head is complete. */
export function readHead(data: Buffer): { head: Head; bodyAt: number } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { head: { status: Number(match[1]), headers }, bodyAt: end + 4 };
}

/** A whole answer read to the end of the connection: its head and its body, de-chunked. */
export function readAnswer(data: Buffer): Answer | undefined {
  const parsed = readHead(data);
  if (!parsed) return undefined;
  const { head, bodyAt } = parsed;
  const rest = data.subarray(bodyAt);
  if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) return { head, ...dechunk(rest) };
  const length = head.headers['content-length'];
  if (length === undefined) return { head, body: rest, complete: true };
  const n = Number(length);
  return { head, body: rest.subarray(0, n), complete: rest.length >= n };
}

function dechunk(data: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts), complete: false };
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    const start = lineEnd + 2;
    if (data.length < start + size) return { body: Buffer.concat(parts), complete: false };
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}
