/**
 * Masking of secrets in anything that leaves the daemon as text (log lines, audit payloads, error bodies).
 * Two nets: pino `redact` paths for the headers that carry credentials, and value-based masking of every secret value
 * the daemon has handled, which also catches a key that an upstream echoes back or that lands in a message string.
 */

export const REDACTED = '[REDACTED]';
const MASK_BYTES = Buffer.from(REDACTED);

/** pino `redact.paths` for the daemon logger: credential-carrying headers and fields, wherever they are logged. */
export const PINO_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-vault-token"]',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-vault-token"]',
  'headers["proxy-authorization"]',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers["x-vault-token"]',
  'secretId',
  'secret_id',
  'client_token',
  '*.secret_id',
  '*.client_token',
  '*.password',
];

/** Values shorter than this are not masked by value: they would mask ordinary words and digits. */
const MIN_MASKED_LENGTH = 6;

/** Remembers every secret value the daemon has handled and masks them in text and JSON-like values. */
export class SecretRedactor {
  readonly #needles = new Set<string>();

  /** Registers a value; its JSON-escaped form is registered too, as it appears in JSON log lines. */
  add(value: string): void {
    if (value.length < MIN_MASKED_LENGTH) return;
    this.#needles.add(value);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) this.#needles.add(escaped);
  }

  get size(): number {
    return this.#needles.size;
  }

  /** Byte length of the longest registered value: how much a stream must hold back to mask values split by chunks. */
  get longestBytes(): number {
    let max = 0;
    for (const n of this.#needles) max = Math.max(max, Buffer.byteLength(n));
    return max;
  }

  /** Masks registered values in raw bytes, leaving every other byte as it was (safe for binary bodies). */
  redactBytes(buf: Buffer): Buffer {
    let out = buf;
    for (const needle of [...this.#needles].sort((a, b) => b.length - a.length)) {
      const n = Buffer.from(needle);
      let at = out.indexOf(n);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at >= 0) {
        parts.push(out.subarray(from, at), MASK_BYTES);
        from = at + n.length;
        at = out.indexOf(n, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another secret is masked whole.
    for (const needle of [...this.#needles].sort((a, b) => b.length - a.length)) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    }
    return out;
  }

  /** Masks every string inside a JSON-like value (objects, arrays), returning a copy. */
  redactValue<T>(value: T): T {
    if (this.#needles.size === 0) return value;
    return JSON.parse(this.redact(JSON.stringify(value) ?? 'null')) as T;
  }
}

/** What pino writes to: anything with `write(string)`. */
export interface LineSink {
  write(line: string): unknown;
}

/**
 * A pino destination that masks known secret values in every serialized line before it reaches `sink`, so even a
 * value that slipped into a message or an error stack never reaches the log.
 */
export class RedactingDestination implements LineSink {
  constructor(
    private readonly redactor: SecretRedactor,
    private readonly sink: LineSink,
  ) {}

  write(line: string): boolean {
    this.sink.write(this.redactor.redact(line));
    return true;
  }
}
