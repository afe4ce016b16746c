import type { IncomingMessage } from 'node:http';
import { readApiErrorBody } from '../shared/api/light.js';
import { ClientError, connectionError } from './errors.js';
import { send } from './http1.js';

export interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

/**
 * HTTP/1.1 over aiboxd's unix socket: buffered answers through http1.ts (node:net), progress streams through
 * node:http (loaded only by the builds that stream). Socket failures become ClientErrors with the client's codes;
 * a non-2xx answer becomes the daemon's own error.
 */
export class UnixSocketTransport {
  constructor(readonly socketPath: string) {}

  /** Sends a request and buffers the whole answer. */
  async request(method: string, path: string, body?: unknown): Promise<RawResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = {
      accept: 'application/json, text/plain',
      ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
    };
    let answer;
    try {
      answer = await send(this.socketPath, method, path, headers, payload);
    } catch (err) {
      throw connectionError(this.socketPath, err);
    }
    if (!answer.complete) throw connectionError(this.socketPath, undefined);
    return {
      status: answer.head.status,
      contentType: answer.head.headers['content-type'] ?? '',
      body: answer.body,
    };
  }

  /** Sends a request and hands back the answer stream once its status is 2xx (for NDJSON); throws otherwise. */
  async stream(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    const res = await this.open(method, path, body);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    throw errorFromAnswer(status, Buffer.concat(chunks));
  }

  private async open(method: string, path: string, body: unknown): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const { default: http } = await import('node:http');
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method,
          headers: {
            host: 'aiboxd',
            accept: 'application/json, application/x-ndjson, text/plain',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        resolve,
      );
      req.on('error', (err) => reject(connectionError(this.socketPath, err)));
      req.end(payload);
    });
  }
}

/** Turns a non-2xx answer into the daemon's error, or DAEMON_BAD_RESPONSE when the body is not an ApiErrorBody. */
export function errorFromAnswer(status: number, body: Buffer): ClientError {
  const parsed = readApiErrorBody(parseJson(body));
  if (parsed) {
    const { code, message, hint, details } = parsed.error;
    return new ClientError(code, message, { status, hint }, details);
  }
  return ClientError.local('DAEMON_BAD_RESPONSE', `aiboxd answered HTTP ${status} without an error body`, {
    status,
  });
}

export function parseJson(body: Buffer | string): unknown {
  try {
    return JSON.parse(body.toString()) as unknown;
  } catch {
    return undefined;
  }
}
