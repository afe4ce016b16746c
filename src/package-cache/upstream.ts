import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type { Logger } from '../shared/index.js';
import { packageCacheErrors } from './errors.js';
import type { ContentStore } from './store.js';

/** How the cache talks to a registry from the host: fetch-shaped, so tests can count and poison what it gets. */
export type UpstreamFetch = (url: string, init: { headers: Record<string, string> }) => Promise<Response>;

/** What every registry module gets from the cache: the shared store, the upstream fetch, limits and a clock. */
export interface RegistryDeps {
  store: ContentStore;
  upstream: UpstreamFetch;
  metadataTtlMs: number;
  maxFileBytes: number;
  logger: Logger;
  now?: () => number;
}

const TIMEOUT_MS = 5 * 60_000;

/** Node's fetch, bounded in time, never following a redirect (it could lead off the host the policy allowed). */
export const nodeFetch: UpstreamFetch = (url, init) =>
  fetch(url, { headers: init.headers, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });

/** GETs `url`; a 404 is `undefined`, any other failure PACKAGE_CACHE_UPSTREAM_FAILED (nothing of it is cached). */
export async function getUpstream(
  upstream: UpstreamFetch,
  url: string,
  headers: Record<string, string>,
): Promise<Response | undefined> {
  let res: Response;
  try {
    res = await upstream(url, { headers: { 'user-agent': 'aibox-package-cache', ...headers } });
  } catch (err) {
    throw packageCacheErrors.create(
      'PACKAGE_CACHE_UPSTREAM_FAILED',
      `cannot fetch ${redact(url)}: ${(err as Error).message}`,
    );
  }
  if (res.status === 404 || res.status === 410) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw packageCacheErrors.create(
      'PACKAGE_CACHE_UPSTREAM_FAILED',
      `${redact(url)} answered ${res.status}`,
      { status: res.status },
    );
  }
  return res;
}

/** A body read whole, refused past `max` bytes. */
export async function readLimited(res: Response, max: number, label: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of bodyOf(res)) {
    size += chunk.length;
    if (size > max) {
      throw packageCacheErrors.create('PACKAGE_CACHE_TOO_LARGE', `${label} is larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export function bodyOf(res: Response): AsyncIterable<Uint8Array> {
  return Readable.fromWeb(res.body as ReadableStream<Uint8Array>);
}

/** URLs in messages lose any query (tokens live there in some registries). */
function redact(url: string): string {
  return url.replace(/\?.*$/, '');
}
