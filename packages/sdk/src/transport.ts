import type { z } from 'zod';
import { ApiErrorBody } from './schemas.js';
import { AiboxApiError, ConnectionError, errorFor } from './errors.js';

export type BodyInit = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface TransportOptions {
  baseUrl: string;
  token: string | undefined;
  /** Per request, in milliseconds (exec adds its own timeout on top). */
  timeoutMs: number;
  fetch: typeof fetch;
}

export interface RequestOptions {
  query?: Record<string, string | undefined> | undefined;
  json?: unknown;
  body?: BodyInit | undefined;
  contentType?: string | undefined;
  timeoutMs?: number | undefined;
}

/** HTTP with the global fetch: bearer token, JSON in and out, answers checked against the shared schemas. */
export class Transport {
  readonly baseUrl: URL;

  constructor(readonly options: TransportOptions) {
    this.baseUrl = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    if (this.baseUrl.protocol !== 'http:' && this.baseUrl.protocol !== 'https:') {
      throw new TypeError(`baseUrl must be http(s)://host[:port], not ${options.baseUrl}`);
    }
  }

  url(path: string, query?: Record<string, string | undefined>): URL {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      accept: 'application/json, application/octet-stream, application/x-tar',
      ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      ...extra,
    };
  }

  /** Sends a request; returns the response when it is 2xx and throws the API's typed error otherwise. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const extra: Record<string, string> = {};
    let body: BodyInit | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      extra['content-type'] = 'application/json';
    } else if (options.contentType) extra['content-type'] = options.contentType;
    const url = this.url(path, options.query);
    let res: Response;
    try {
      res = await this.options.fetch(url, {
        method,
        headers: this.headers(extra),
        ...(body !== undefined ? { body: body as never, duplex: 'half' } : {}),
        signal: AbortSignal.timeout(options.timeoutMs ?? this.options.timeoutMs),
      });
    } catch (err) {
      throw new ConnectionError(
        'SDK_CONNECTION_FAILED',
        `cannot reach aiboxd at ${this.baseUrl.origin}: ${(err as Error).message}`,
        0,
        'Check the URL, that the daemon’s network listener is enabled, and the network in between.',
      );
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let parsed: ReturnType<typeof ApiErrorBody.safeParse> | undefined;
    try {
      parsed = ApiErrorBody.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      throw new AiboxApiError(
        'SDK_BAD_RESPONSE',
        `HTTP ${res.status} without an aibox error body`,
        res.status,
      );
    }
    throw errorFor(res.status, parsed.data.error, res.headers.get('retry-after'));
  }

  async json<S extends z.ZodType>(schema: S, method: string, path: string, options?: RequestOptions) {
    const res = await this.send(method, path, options);
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      throw new AiboxApiError(
        'SDK_BAD_RESPONSE',
        `${method} ${path}: the answer does not match the API`,
        res.status,
      );
    }
    return parsed.data;
  }
}

/** `/v1/sessions/:id` with its parameters filled in, each percent-encoded (a value never adds a segment). */
export function fill(pattern: string, params: Record<string, string>): string {
  return pattern.replace(/:([a-zA-Z]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}
