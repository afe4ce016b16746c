import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import type { Reader } from '../shared/api/light.js';
import { ClientError } from './errors.js';
import { readNdjson } from './ndjson.js';
import { UnixSocketTransport, errorFromAnswer, parseJson } from './transport.js';

export type { Reader };

/** A zod schema as a Reader (the schema module is imported by the caller, only when its route is called). */
export function bySchema<S extends z.ZodType>(schema: S): Reader<z.output<S>> {
  return (value) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
}

/** The events of a progress stream (image or pack build): progress lines, then one `done` or one `error`. */
type BuildEvent = { type: string } & (
  | { type: 'done' }
  | { type: 'error'; error: { code: string; message: string; hint: string } }
  | { type: 'progress' }
);

/**
 * What every resource group calls: one request over the unix socket, a non-2xx answer turned into the daemon's
 * error, a 2xx answer read into its contract shape (DAEMON_BAD_RESPONSE when it is not one).
 */
export class ApiCore {
  private readonly transport: UnixSocketTransport;

  constructor(readonly socketPath: string) {
    this.transport = new UnixSocketTransport(socketPath);
  }

  async json<T>(method: string, path: string, read: Reader<T>, body?: unknown): Promise<T> {
    const res = await this.transport.request(method, path, body);
    if (res.status < 200 || res.status >= 300) throw errorFromAnswer(res.status, res.body);
    const value = read(parseJson(res.body));
    if (value === undefined) throw badResponse(`${method} ${path}`, 'the documented answer');
    return value;
  }

  async text(method: string, path: string): Promise<string> {
    const res = await this.transport.request(method, path);
    if (res.status < 200 || res.status >= 300) throw errorFromAnswer(res.status, res.body);
    return res.body.toString('utf8');
  }

  /**
   * An NDJSON progress stream: calls onEvent for each line, resolves with the `done` event and rejects with the
   * stream's own error code on an `error` event.
   */
  async build<E extends BuildEvent>(
    path: string,
    body: unknown,
    read: Reader<E>,
    onEvent: (event: E) => void,
  ): Promise<Extract<E, { type: 'done' }>> {
    const stream: IncomingMessage = await this.transport.stream('POST', path, body);
    for await (const raw of readNdjson(stream)) {
      const event = read(raw);
      if (event === undefined) throw badResponse(`POST ${path}`, 'a progress event');
      onEvent(event);
      if (event.type === 'done') return event as Extract<E, { type: 'done' }>;
      if (event.type === 'error' && 'error' in event) {
        const { code, message, hint } = event.error;
        throw new ClientError(code, message, { status: 0, hint });
      }
    }
    throw ClientError.local('DAEMON_CONNECTION_LOST', `the stream of POST ${path} ended before it finished`);
  }
}

function badResponse(route: string, expected: string): ClientError {
  return ClientError.local('DAEMON_BAD_RESPONSE', `aiboxd's answer to ${route} is not ${expected}`, {
    route,
  });
}
