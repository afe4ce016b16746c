import http from 'node:http';

export interface SocketJsonRequest {
  method: 'GET' | 'POST';
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  timeoutMs: number;
  /** A longer answer is cut off with an error: the engine's answers come from a sandbox the agent controls. */
  maxBytes: number;
}

/**
 * One JSON request over a Podman API unix socket: the answer's status and its parsed body (undefined when it is not
 * JSON). Rejects on a connection error, the timeout or an answer over maxBytes.
 */
export function socketJson(
  socketPath: string,
  r: SocketJsonRequest,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = r.body === undefined ? undefined : JSON.stringify(r.body);
    const req = http.request(
      {
        socketPath,
        path: r.path,
        method: r.method,
        timeout: r.timeoutMs,
        headers: data
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
          : undefined,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        let size = 0;
        answer.on('data', (c: Buffer) => {
          size += c.length;
          if (size > r.maxBytes) req.destroy(new Error('answer too large'));
          else chunks.push(c);
        });
        answer.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          resolve({ status: answer.statusCode ?? 0, body });
        });
        answer.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}
