import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
  /** Arrival time (performance.now()) and bytes of every chunk the client received. */
  chunks: { at: number; text: string }[];
}

/** A plain HTTP client on loopback that records when each chunk arrives (no buffering library in between). */
export function send(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const body =
    opts.body === undefined
      ? undefined
      : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? (body ? 'POST' : 'GET'),
        headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) },
      },
      (res) => {
        const chunks: { at: number; text: string }[] = [];
        res.on('data', (c: Buffer) => chunks.push({ at: performance.now(), text: c.toString('utf8') }));
        res.on('end', () => {
          const text = chunks.map((c) => c.text).join('');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, chunks });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
