/** One HTTP request to aiboxd over its unix socket, as root tests make it; the body is parsed JSON when it is JSON. */
import http from 'node:http';

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

export function socketApi<T>(
  socket: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<ApiAnswer<T>> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: socket,
        path: route,
        method,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON (e.g. logs): the text as is */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}
