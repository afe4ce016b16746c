import type { ExecControlMessage } from './types.js';

/** Stream bytes of the exec WebSocket's binary frames (src/shared/api/system.ts EXEC_STREAM). */
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;

export interface ExecSocketEvents {
  /** The socket is open and the start message sent. */
  open?(): void;
  output(data: Uint8Array, stream: 'stdout' | 'stderr'): void;
  exit(code: number): void;
  error(e: { code: string; message: string; hint: string }): void;
  closed(): void;
}

export type SocketFactory = (url: string) => WebSocket;

/** The URL of a sandbox's streaming exec on this origin (ws: or wss: as the page). */
export function execUrl(loc: Pick<Location, 'protocol' | 'host'>, sandbox: string): string {
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${loc.host}/v1/sandboxes/${encodeURIComponent(sandbox)}/exec/ws`;
}

/**
 * The dashboard's end of the streaming exec protocol: the first text frame is the start message (the command and
 * the terminal size, nothing in the URL); stdin goes as binary frames with stream byte 0; resizes and stdin end
 * are text control frames; the daemon answers with stdout/stderr frames and an exit or error control frame.
 */
export class ExecSocket {
  private readonly ws: WebSocket;
  private readonly encoder = new TextEncoder();
  private ended = false;

  constructor(
    url: string,
    spec: { cmd: string[]; cols: number; rows: number },
    private readonly on: ExecSocketEvents,
    factory: SocketFactory = (u) => new WebSocket(u),
  ) {
    this.ws = factory(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.addEventListener('open', () => {
      this.ws.send(JSON.stringify({ type: 'start', spec: { ...spec, tty: true, stdin: true } }));
      this.on.open?.();
    });
    this.ws.addEventListener('message', (e: MessageEvent<ArrayBuffer | string>) => this.receive(e.data));
    this.ws.addEventListener('close', () => {
      if (!this.ended) this.on.closed();
      this.ended = true;
    });
  }

  private receive(data: ArrayBuffer | string): void {
    if (typeof data === 'string') {
      let m: ExecControlMessage;
      try {
        m = JSON.parse(data) as ExecControlMessage;
      } catch {
        return;
      }
      if (m.type === 'exit') {
        this.ended = true;
        this.on.exit(m.exitCode);
      } else if (m.type === 'error') {
        this.ended = true;
        this.on.error(m.error);
      }
      return;
    }
    const bytes = new Uint8Array(data);
    if (bytes.length === 0) return;
    if (bytes[0] === STDOUT) this.on.output(bytes.subarray(1), 'stdout');
    else if (bytes[0] === STDERR) this.on.output(bytes.subarray(1), 'stderr');
  }

  /** Keystrokes as the terminal emits them (already encoded by xterm as the bytes a tty expects). */
  input(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const body = this.encoder.encode(text);
    const frame = new Uint8Array(body.length + 1);
    frame[0] = STDIN;
    frame.set(body, 1);
    this.ws.send(frame);
  }

  resize(cols: number, rows: number): void {
    if (this.ws.readyState !== WebSocket.OPEN || cols < 1 || rows < 1) return;
    this.ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  close(): void {
    this.ended = true;
    this.ws.close(1000);
  }
}
