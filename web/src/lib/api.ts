import type { ApiErrorBody } from '../../../src/shared/api/errors.js';

/** A non-2xx answer of aiboxd (or a local failure), with the API's stable code and hint. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * The dashboard's only way to the daemon: same-origin calls to the public /v1 API. The session is an HttpOnly
 * cookie the browser sends by itself; every state-changing call carries the session's CSRF token in a header.
 * Neither the API token nor the CSRF token is ever written to storage.
 */
export class Api {
  private csrf: string | undefined;
  /** Told when an API call answers 401 (expired or revoked token): the shell shows the login form again. */
  onUnauthorized: ((e: ApiError) => void) | undefined;

  constructor(private readonly fetchImpl: Fetch = (i, init) => fetch(i, init)) {}

  setCsrf(token: string | undefined): void {
    this.csrf = token;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['x-aibox-csrf'] = this.csrf;
    let res: Response;
    try {
      res = await this.fetchImpl(path, {
        method,
        headers,
        credentials: 'same-origin',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ApiError(
        0,
        'DASHBOARD_OFFLINE',
        `aiboxd did not answer: ${err instanceof Error ? err.message : String(err)}`,
        'Check that aiboxd is running and reachable.',
      );
    }
    const text = await res.text();
    const json = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const error = errorOf(res.status, json);
      if (res.status === 401 && !path.startsWith('/dashboard/')) this.onUnauthorized?.(error);
      throw error;
    }
    return json as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function errorOf(status: number, json: unknown): ApiError {
  const e = (json as Partial<ApiErrorBody> | undefined)?.error;
  if (e && typeof e.code === 'string') return new ApiError(status, e.code, e.message, e.hint, e.details);
  return new ApiError(status, 'API_UNEXPECTED', `aiboxd answered ${status}`, 'See the daemon log.');
}

/** A path segment the caller cannot use to reach another route. */
export const seg = (s: string): string => encodeURIComponent(s);

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
