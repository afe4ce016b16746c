import type { SecretRedactor } from '../credentials/index.js';

const NL = 0x0a;
const MAX_LINE = 1024 * 1024;

/**
 * Masks known secret values in a response on its way back to the sandbox, so an upstream that echoes the key
 * (a gateway's debug route, an error message) cannot hand it to the agent. A value split across two chunks is
 * still caught: event streams are forwarded line by line (an SSE event ends with a newline, so nothing waits),
 * other bodies hold back the last (longest secret - 1) bytes until the next chunk or the end.
 */
export class StreamRedactor {
  #carry: Buffer = Buffer.alloc(0);

  constructor(
    private readonly redactor: SecretRedactor,
    private readonly mode: 'lines' | 'window',
  ) {}

  push(chunk: Buffer): Buffer {
    const all = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    let cut = -1;
    if (this.mode === 'lines') {
      cut = all.lastIndexOf(NL) + 1;
      // A line that never ends must not grow without bound: fall back to the window for it.
      if (all.length - cut > MAX_LINE) cut = -1;
    }
    if (cut < 0) {
      const redacted = this.redactor.redactBytes(all);
      const keep = Math.max(0, this.redactor.longestBytes - 1);
      cut = Math.max(0, redacted.length - keep);
      this.#carry = redacted.subarray(cut);
      return redacted.subarray(0, cut);
    }
    this.#carry = all.subarray(cut);
    return this.redactor.redactBytes(all.subarray(0, cut));
  }

  end(): Buffer {
    const rest = this.redactor.redactBytes(this.#carry);
    this.#carry = Buffer.alloc(0);
    return rest;
  }
}
