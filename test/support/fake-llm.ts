/**
 * TEST STAND-IN for an LLM provider (Anthropic Messages API and OpenAI Chat Completions shapes), listening on
 * 127.0.0.1 over HTTP or HTTPS. It records every request it receives (headers included, so tests can see which key
 * arrived) and answers with fixed text and token usage; streamed answers are sent as server-sent events one chunk
 * at a time with a delay, and the send time of each chunk is kept so tests can compare it with the arrival time.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface FakeLlmRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeLlmOptions {
  tls?: { key: string; cert: string };
  /** Delay between streamed chunks. */
  chunkDelayMs?: number;
  /** Number of text deltas in a streamed answer. */
  chunks?: number;
  /** Misbehaving upstream: echo the received key in the answer (the proxy must still redact it). */
  echoKey?: boolean;
}

export const FAKE_USAGE = { input_tokens: 12, output_tokens: 34 };

export class FakeLlm {
  readonly requests: FakeLlmRequest[] = [];
  /** performance.now() of each streamed chunk written, for the last streamed answer. */
  sentAt: number[] = [];
  #server: Server | undefined;
  #port = 0;

  constructor(private readonly opts: FakeLlmOptions = {}) {}

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    const server = this.opts.tls ? createHttpsServer(this.opts.tls, handler) : createHttpServer(handler);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
    let json: Record<string, unknown> = {};
    try {
      json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      json = {};
    }
    const key = String(req.headers['x-api-key'] ?? req.headers.authorization ?? '');
    const text = this.opts.echoKey ? `Hello! you sent ${key}` : 'Hello from the fake model.';
    const model = typeof json['model'] === 'string' ? json['model'] : 'unknown';

    if (path.endsWith('/v1/messages')) {
      if (json['stream'] === true)
        return this.#stream(res, anthropicEvents(model, text, this.opts.chunks ?? 5));
      return sendJson(res, 200, {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: 'end_turn',
        usage: FAKE_USAGE,
      });
    }
    if (path.endsWith('/chat/completions')) {
      if (json['stream'] === true) {
        const withUsage =
          (json['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage === true;
        return this.#stream(res, openaiEvents(model, text, this.opts.chunks ?? 5, withUsage));
      }
      return sendJson(res, 200, {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 },
      });
    }
    if (path.endsWith('/v1/models'))
      return sendJson(res, 200, { data: [{ id: 'claude-test', type: 'model' }] });
    return sendJson(res, 404, {
      type: 'error',
      error: { type: 'not_found_error', message: 'no such route' },
    });
  }

  async #stream(res: ServerResponse, events: string[]): Promise<void> {
    this.sentAt = [];
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    for (const ev of events) {
      this.sentAt.push(performance.now());
      res.write(ev);
      await new Promise((r) => setTimeout(r, this.opts.chunkDelayMs ?? 0));
    }
    res.end();
  }
}

function sse(event: string | undefined, data: unknown): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

function anthropicEvents(model: string, text: string, n: number): string[] {
  const parts = split(text, n);
  return [
    sse('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        usage: { input_tokens: 12, output_tokens: 1 },
      },
    }),
    ...parts.map((p) =>
      sse('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: p },
      }),
    ),
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 34 },
    }),
    sse('message_stop', { type: 'message_stop' }),
  ];
}

function openaiEvents(model: string, text: string, n: number, withUsage: boolean): string[] {
  const parts = split(text, n);
  const chunk = (delta: unknown, usage: unknown = null) =>
    sse(undefined, {
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      model,
      choices: delta ? [{ index: 0, delta }] : [],
      usage,
    });
  return [
    ...parts.map((p) => chunk({ content: p })),
    ...(withUsage ? [chunk(undefined, { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 })] : []),
    sse(undefined, '[DONE]'),
  ];
}

function split(text: string, n: number): string[] {
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
