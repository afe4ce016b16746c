import { readExecControl } from '../shared/api/light.js';
import { EXEC_STREAM } from '../shared/api/names.js';
import { API_ROUTES, routePath } from '../shared/api/routes.js';
import type { ExecRequest } from '../shared/api/sandboxes.js';
import type { ExecControlMessage, ExecStartMessage } from '../shared/api/system.js';
import { ClientError, connectionError } from './errors.js';
import { errorFromAnswer, parseJson } from './transport.js';
import { UnixWebSocket, WS_OPEN } from './websocket.js';

export interface TerminalSize {
  cols: number;
  rows: number;
}

export interface ExecStreamIo {
  /** Forwarded to the command's stdin when given (set `stdin: true` in the spec); its end sends stdin-eof. */
  stdin?: NodeJS.ReadableStream | undefined;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Subscribes to terminal size changes (SIGWINCH); returns the unsubscribe function. */
  onResize?: ((send: (size: TerminalSize) => void) => () => void) | undefined;
}

/**
 * The URL `ws` understands for a WebSocket over a unix socket. It names the sandbox only: the spec (env values
 * included) goes in the first message, never in a URL that request logs record.
 */
export function execWebSocketUrl(socketPath: string, name: string): string {
  return `ws+unix://${socketPath}:${routePath(API_ROUTES.sandboxes.execWs, { name })}`;
}

export type ExecRequestInput = Partial<ExecRequest> & Pick<ExecRequest, 'cmd'>;

/**
 * Runs a command in a sandbox over the exec WebSocket, copying its stdout/stderr through (with backpressure) and
 * resolving with its exit code. Rejects with the daemon's error (e.g. unknown sandbox) or a connection error.
 */
export function execStream(
  socketPath: string,
  name: string,
  spec: ExecRequestInput,
  io: ExecStreamIo,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const ws = new UnixWebSocket(socketPath, routePath(API_ROUTES.sandboxes.execWs, { name }));
    let exitCode: number | undefined;
    let failure: ClientError | undefined;
    let opened = false;
    let settled = false;
    const cleanups: (() => void)[] = [];

    const finish = () => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups.splice(0)) cleanup();
      if (failure) reject(failure);
      else if (exitCode !== undefined) resolve(exitCode);
      else
        reject(
          ClientError.local(
            'DAEMON_CONNECTION_LOST',
            'the exec stream closed before the command reported its exit code',
          ),
        );
    };

    ws.on('refused', (status: number, body: Buffer) => {
      failure = errorFromAnswer(status, body);
    });

    ws.on('error', (err: Error) => {
      failure ??= opened
        ? ClientError.local('DAEMON_CONNECTION_LOST', `exec stream failed: ${err.message}`)
        : connectionError(socketPath, err);
    });

    // A reader that went away (`aibox exec … | head`) ends the stream instead of crashing on EPIPE.
    const onOutputError = (err: NodeJS.ErrnoException) => {
      failure ??= ClientError.local(
        'EXEC_OUTPUT_CLOSED',
        `cannot write the command's output: ${err.code ?? err.message}`,
      );
      ws.terminate();
    };
    io.stdout.on('error', onOutputError);
    io.stderr.on('error', onOutputError);
    cleanups.push(() => {
      io.stdout.removeListener('error', onOutputError);
      io.stderr.removeListener('error', onOutputError);
    });

    ws.on('open', () => {
      opened = true;
      const start: ExecStartMessage = { type: 'start', spec: { ...spec } };
      ws.send(JSON.stringify(start));
      if (io.stdin && spec.stdin) cleanups.push(forwardStdin(ws, io.stdin));
      if (io.onResize) {
        cleanups.push(io.onResize((size) => sendControl(ws, { type: 'resize', ...size })));
      }
    });

    ws.on('message', (buf: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const target =
          buf[0] === EXEC_STREAM.stderr ? io.stderr : buf[0] === EXEC_STREAM.stdout ? io.stdout : null;
        if (target && !target.write(buf.subarray(1))) {
          ws.pause();
          target.once('drain', () => ws.resume());
        }
        return;
      }
      const msg = readExecControl(parseJson(buf));
      if (!msg) return;
      if (msg.type === 'exit') exitCode = msg.exitCode;
      else if (msg.type === 'error') {
        const { code, message, hint } = msg.error;
        failure = new ClientError(code, message, { status: 0, hint });
      }
    });

    ws.on('close', () => {
      finish();
    });
  });
}

function forwardStdin(ws: UnixWebSocket, stdin: NodeJS.ReadableStream): () => void {
  const onData = (chunk: Buffer | string) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (ws.readyState !== WS_OPEN) return;
    stdin.pause();
    ws.send(Buffer.concat([Buffer.from([EXEC_STREAM.stdin]), data]), () => stdin.resume());
  };
  const onEnd = () => sendControl(ws, { type: 'stdin-eof' });
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  return () => {
    stdin.removeListener('data', onData);
    stdin.removeListener('end', onEnd);
    stdin.pause();
  };
}

function sendControl(ws: UnixWebSocket, msg: ExecControlMessage): void {
  if (ws.readyState === WS_OPEN) ws.send(JSON.stringify(msg));
}
