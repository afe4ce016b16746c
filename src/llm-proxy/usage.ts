/** Token usage as providers report it, normalised. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
}

type Json = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/**
 * Usage from one JSON document: a whole response, or one SSE event. Anthropic puts it in `usage` or
 * `message.usage` (message_start); OpenAI chat in `usage` (prompt/completion_tokens), the Responses API in
 * `response.usage` (input/output_tokens).
 */
export function usageOf(doc: unknown): TokenUsage | undefined {
  const d = obj(doc);
  if (!d) return undefined;
  const u = obj(d['usage']) ?? obj(obj(d['message'])?.['usage']) ?? obj(obj(d['response'])?.['usage']);
  if (!u) return undefined;
  const input = num(u['input_tokens']) ?? num(u['prompt_tokens']);
  const output = num(u['output_tokens']) ?? num(u['completion_tokens']);
  if (input === undefined && output === undefined) return undefined;
  const usage: TokenUsage = { inputTokens: input ?? 0, outputTokens: output ?? 0 };
  const cacheRead =
    num(u['cache_read_input_tokens']) ?? num(obj(u['prompt_tokens_details'])?.['cached_tokens']);
  const cacheCreation = num(u['cache_creation_input_tokens']);
  if (cacheRead !== undefined) usage.cacheReadTokens = cacheRead;
  if (cacheCreation !== undefined) usage.cacheCreationTokens = cacheCreation;
  return usage;
}

/** Streamed counts are cumulative (Anthropic's message_delta repeats the running total): keep the largest seen. */
export function mergeUsage(a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: TokenUsage = {
    inputTokens: Math.max(a.inputTokens, b.inputTokens),
    outputTokens: Math.max(a.outputTokens, b.outputTokens),
  };
  const cr = Math.max(a.cacheReadTokens ?? -1, b.cacheReadTokens ?? -1);
  const cc = Math.max(a.cacheCreationTokens ?? -1, b.cacheCreationTokens ?? -1);
  if (cr >= 0) out.cacheReadTokens = cr;
  if (cc >= 0) out.cacheCreationTokens = cc;
  return out;
}

export function totalTokens(u: TokenUsage | undefined): number {
  return u ? u.inputTokens + u.outputTokens + (u.cacheCreationTokens ?? 0) : 0;
}

const MAX_LINE = 1024 * 1024;

/** Reads usage out of a server-sent-event stream as chunks pass by, without holding the stream. */
export class SseUsageReader {
  #partial = '';
  #usage: TokenUsage | undefined;
  readonly #decoder = new TextDecoder();

  push(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    if (this.#partial.length > MAX_LINE) this.#partial = '';
    for (const line of lines) this.#line(line);
  }

  end(): TokenUsage | undefined {
    if (this.#partial) this.#line(this.#partial);
    this.#partial = '';
    return this.#usage;
  }

  #line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (!data.startsWith('{')) return;
    try {
      this.#usage = mergeUsage(this.#usage, usageOf(JSON.parse(data)));
    } catch {
      // not JSON: nothing to count
    }
  }
}
