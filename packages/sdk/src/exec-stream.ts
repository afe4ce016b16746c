import WebSocket from 'ws';
import { EXEC_STREAM, ExecControlMessage } from './schemas.js';
import { AiboxApiError, ConnectionError } from './errors.js';

export type ExecEvent =
  { type: 'stdout'; data: Buffer } | { type: 'stderr'; data: Buffer } | { type: 'exit'; exitCode: number };

export interface ExecStreamSpec {
  cmd: string[];
  env?: Record<string, string>;
  workdir?: string;
  stdin?: boolean;
  tty?: boolean;
}

/**
 * A command running in a session over a WebSocket: iterate it for output events (`for await (const ev of run)`),
 * write to its stdin, and await `exit` for the exit code. A refusal (policy, unknown session) rejects with the
 * API's typed error.
 */
export class ExecStream implements AsyncIterable<ExecEvent> {
  readonly exit: Promise<number>;
  private readonly queue: ExecEvent[] = [];
  private waiting: (() => void) | undefined;
  private done = false;
  private failure: AiboxApiError | undefined;

  constructor(
    private readonly socket: WebSocket,
    spec: ExecStreamSpec,
  ) {
    let settle!: (code: number) => void;
    let fail!: (err: AiboxApiError) => void;
    this.exit = new Promise<number>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    this.exit.catch(() => undefined); // read through the iterator or awaited; never unhandled
    const push = (ev?: ExecEvent) => {
      if (ev) this.queue.push(ev);
      this.waiting?.();
      this.waiting = undefined;
    };
    const finish = (err?: AiboxApiError) => {
      if (this.done) return;
      this.done = true;
      this.failure = err;
      if (err) fail(err);
      push();
    };
    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'start', spec: { stdin: true, ...spec } }));
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const stream = data[0];
        const chunk = data.subarray(1);
        if (stream === EXEC_STREAM.stdout) push({ type: 'stdout', data: chunk });
        else if (stream === EXEC_STREAM.stderr) push({ type: 'stderr', data: chunk });
        return;
      }
      let message: unknown;
      try {
        message = JSON.parse(data.toString('utf8'));
      } catch {
        return;
      }
      const parsed = ExecControlMessage.safeParse(message);
      if (!parsed.success) return;
      if (parsed.data.type === 'exit') {
        push({ type: 'exit', exitCode: parsed.data.exitCode });
        settle(parsed.data.exitCode);
        finish();
      } else if (parsed.data.type === 'error') {
        const e = parsed.data.error;
        finish(new AiboxApiError(e.code, e.message, 0, e.hint));
      }
    });
    socket.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: { error?: { code: string; message: string; hint?: string } } = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
        } catch {
          /* not in the contract */
        }
        const e = body.error ?? { code: 'SDK_BAD_RESPONSE', message: `HTTP ${res.statusCode ?? 0}` };
        finish(new AiboxApiError(e.code, e.message, res.statusCode ?? 0, e.hint ?? ''));
      });
    });
    socket.on('error', (err) => {
      finish(new ConnectionError('SDK_CONNECTION_FAILED', `exec stream: ${err.message}`, 0));
    });
    socket.on('close', () => {
      finish(
        this.done ? undefined : new ConnectionError('SDK_CONNECTION_FAILED', 'exec stream closed early', 0),
      );
    });
  }

  /** Sends bytes to the command's stdin. */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
    this.whenOpen(() => this.socket.send(Buffer.concat([Buffer.from([EXEC_STREAM.stdin]), bytes])));
  }

  /** Closes the command's stdin (EOF). */
  end(): void {
    this.whenOpen(() => this.socket.send(JSON.stringify({ type: 'stdin-eof' })));
  }

  /** Disconnects; the daemon ends the command's stdin. */
  close(): void {
    this.socket.close(1000);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ExecEvent> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.done) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private whenOpen(fn: () => void): void {
    if (this.socket.readyState === WebSocket.OPEN) fn();
    else this.socket.once('open', fn);
  }
}
