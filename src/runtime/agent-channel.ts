import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { runtimeErrors } from './errors.js';
import {
  FrameDecoder,
  PROTOCOL_VERSION,
  T,
  WINDOW,
  decodeExit,
  decodeList,
  encodeFrame,
  encodeSpawn,
  signalNumber,
  u32,
  type ExitFrame,
  type Frame,
  type ProcessInfo,
  type SpawnRequest,
} from './agent-protocol.js';

/** What a command ended with. `code` is the shell's: 128+signal when killed by one. */
export interface ExecExit {
  code: number;
  signal?: string | undefined;
  timedOut: boolean;
}

/** One running command on a channel, as the runtime hands it out. */
export interface AgentCommand {
  pid: Promise<number>;
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  resize: (cols: number, rows: number) => Promise<void>;
  signal: (name: string | number) => Promise<void>;
  exit: Promise<ExecExit>;
}

/** Bytes of stdin a caller may queue beyond the agent's window before its writes fail (never unbounded). */
const STDIN_QUEUE_LIMIT = 8 * 1024 * 1024;

const SIGNAL_NAMES = new Map<number, string>([
  [1, 'HUP'],
  [2, 'INT'],
  [3, 'QUIT'],
  [6, 'ABRT'],
  [9, 'KILL'],
  [11, 'SEGV'],
  [13, 'PIPE'],
  [14, 'ALRM'],
  [15, 'TERM'],
]);

/**
 * Resolves when a stream's data has been read to its end by its consumer — or at once if nobody consumes it (a
 * consumer that attaches in the same turn, after the exit arrived, is waited for: one macrotask).
 */
async function delivered(s: Readable): Promise<void> {
  for (let round = 0; round < 2; round++) {
    if (s.readableEnded || s.destroyed) return;
    if (s.readableFlowing || s.listenerCount('data') > 0 || s.listenerCount('readable') > 0) {
      await new Promise<void>((resolve) => {
        s.once('end', resolve);
        s.once('close', resolve);
      });
      return;
    }
    await new Promise((r) => setImmediate(r));
  }
}

interface Pending {
  stream: number;
  started?: (pid: number) => void;
  failed?: (err: Error) => void;
  onFrame(frame: Frame): void;
  onLost(err: Error): void;
}

/**
 * The daemon's end of one sandbox's agent connection: multiplexes commands (one stream id each) and control
 * requests over a single unix socket. When the socket breaks every open command fails with RUNTIME_AGENT_LOST
 * (the agent kills them too); the owner decides whether to reconnect or fail the sandbox.
 */
export class AgentChannel {
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextStream = 1;
  private lostError: Error | undefined;
  private readonly closeListeners: ((err: Error) => void)[] = [];

  private constructor(
    private readonly socket: net.Socket,
    readonly agentPid: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.lose(`protocol error: ${(err as Error).message}`);
        return;
      }
      for (const f of frames) this.pending.get(f.stream)?.onFrame(f);
    });
    socket.on('error', (err) => this.lose(err.message));
    socket.on('close', () => this.lose('the agent closed the connection'));
  }

  /** Connects and waits for the agent's HELLO (retrying while the socket is not there yet, up to `timeoutMs`). */
  static async connect(socketPath: string, timeoutMs: number): Promise<AgentChannel> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      try {
        return await AgentChannel.tryConnect(socketPath, Math.max(100, deadline - Date.now()));
      } catch (err) {
        last = (err as Error).message;
        if (!/ENOENT|ECONNREFUSED/.test(last)) break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw runtimeErrors.create(
      'RUNTIME_AGENT_UNAVAILABLE',
      `the sandbox's exec agent does not answer: ${last}`,
    );
  }

  private static tryConnect(socketPath: string, timeoutMs: number): Promise<AgentChannel> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const decoder = new FrameDecoder();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('no HELLO from the agent'));
      }, timeoutMs);
      const onData = (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          socket.destroy();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const hello = frames[0];
        if (!hello) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        if (
          hello.type !== T.HELLO ||
          hello.payload.readUInt32BE(0) !== PROTOCOL_VERSION ||
          frames.length > 1
        ) {
          socket.destroy();
          reject(new Error(`unexpected greeting from the agent (type ${hello.type})`));
          return;
        }
        resolve(new AgentChannel(socket, hello.payload.readUInt32BE(4)));
      };
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.on('data', onData);
      socket.once('error', onError);
    });
  }

  get alive(): boolean {
    return !this.lostError;
  }

  onClose(listener: (err: Error) => void): void {
    if (this.lostError) listener(this.lostError);
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.socket.destroy();
    this.lose('closed by the daemon');
  }

  private lose(reason: string): void {
    if (this.lostError) return;
    this.lostError = runtimeErrors.create('RUNTIME_AGENT_LOST', `lost the sandbox's exec agent: ${reason}`);
    this.socket.destroy();
    for (const p of [...this.pending.values()]) p.onLost(this.lostError);
    this.pending.clear();
    for (const l of this.closeListeners) l(this.lostError);
  }

  private send(type: number, stream: number, payload?: Buffer): boolean {
    if (this.lostError) return false;
    return this.socket.write(encodeFrame(type, stream, payload));
  }

  private allocate(): number {
    for (;;) {
      const id = this.nextStream;
      this.nextStream = this.nextStream >= 0x7fffffff ? 1 : this.nextStream + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  /** Round trip to the agent: its latency in ms. */
  async ping(): Promise<number> {
    const began = process.hrtime.bigint();
    await this.request(T.PING, Buffer.alloc(0), T.PONG);
    return Number(process.hrtime.bigint() - began) / 1e6;
  }

  /** Every process in the sandbox but the agent. */
  async processes(): Promise<ProcessInfo[]> {
    return decodeList(await this.request(T.LIST, Buffer.alloc(0), T.LIST_REPLY));
  }

  /** Signals one process of the sandbox (the agent refuses itself and root processes). */
  async kill(pid: number, signal: string | number): Promise<void> {
    const sig = signalNumber(signal);
    if (!sig || !Number.isInteger(pid) || pid < 2) {
      throw runtimeErrors.create('RUNTIME_EXEC_BAD_REQUEST', `cannot send signal ${signal} to pid ${pid}`);
    }
    const payload = Buffer.alloc(5);
    payload.writeUInt32BE(pid, 0);
    payload.writeUInt8(sig, 4);
    const errno = (await this.request(T.KILL, payload, T.KILL_REPLY)).readUInt32BE(0);
    if (errno === 3)
      throw runtimeErrors.create('RUNTIME_PROCESS_NOT_FOUND', `no process ${pid} in the sandbox`);
    if (errno !== 0) {
      throw runtimeErrors.create('RUNTIME_EXEC_BAD_REQUEST', `cannot signal process ${pid} (errno ${errno})`);
    }
  }

  private request(type: number, payload: Buffer, reply: number): Promise<Buffer> {
    if (this.lostError) return Promise.reject(this.lostError);
    const stream = this.allocate();
    return new Promise((resolve, reject) => {
      this.pending.set(stream, {
        stream,
        onFrame: (f) => {
          this.pending.delete(stream);
          if (f.type === reply) resolve(f.payload);
          else reject(runtimeErrors.create('RUNTIME_EXEC', `agent: ${f.payload.toString('utf8')}`));
        },
        onLost: reject,
      });
      this.send(type, stream, payload);
    });
  }

  /** Starts a command; resolves once the agent has forked it (its pid) or rejects with why it could not. */
  async spawn(req: SpawnRequest): Promise<AgentCommand> {
    if (this.lostError) throw this.lostError;
    let spawnPayload: Buffer;
    try {
      spawnPayload = encodeSpawn(req);
    } catch (err) {
      throw runtimeErrors.create(
        'RUNTIME_EXEC_BAD_REQUEST',
        `cannot run the command: ${(err as Error).message}`,
      );
    }
    const stream = this.allocate();
    const send = (type: number, payload?: Buffer) => this.send(type, stream, payload);
    let exited = false;
    // Output credit owed to the agent, held while a reader is not keeping up.
    let owed = 0;
    let creditScheduled = false;
    const blocked = { out: false, err: false };
    const grant = () => {
      creditScheduled = false;
      if (exited || blocked.out || blocked.err || owed === 0) return;
      send(T.CREDIT, u32(owed));
      owed = 0;
    };
    const scheduleGrant = () => {
      if (!creditScheduled) {
        creditScheduled = true;
        setImmediate(grant);
      }
    };
    const output = (which: 'out' | 'err') =>
      new Readable({
        highWaterMark: WINDOW,
        read() {
          if (blocked[which]) {
            blocked[which] = false;
            scheduleGrant();
          }
        },
      });
    const stdout = output('out');
    const stderr = output('err');
    const deliver = (which: 'out' | 'err', data: Buffer) => {
      const target = which === 'out' ? stdout : stderr;
      owed += data.length;
      if (!target.push(data)) blocked[which] = true;
      scheduleGrant();
    };

    // stdin: at most WINDOW bytes in flight to the agent; beyond that writes wait for its STDIN_CREDIT.
    let inFlight = 0;
    let queued: { chunk: Buffer; done: (err?: Error | null) => void }[] = [];
    let queuedBytes = 0;
    let eofPending: (() => void) | undefined;
    const pumpStdin = () => {
      while (queued.length) {
        const head = queued[0]!;
        const room = WINDOW - inFlight;
        if (room <= 0) return;
        const part = head.chunk.subarray(0, Math.min(room, 64 * 1024));
        send(T.STDIN, part);
        inFlight += part.length;
        queuedBytes -= part.length;
        if (part.length === head.chunk.length) {
          queued.shift();
          head.done();
        } else {
          head.chunk = head.chunk.subarray(part.length);
        }
      }
      if (eofPending) {
        const finish = eofPending;
        eofPending = undefined;
        send(T.STDIN_EOF);
        finish();
      }
    };
    const stdin = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        if (exited) {
          done();
          return;
        }
        if (queuedBytes + chunk.length > STDIN_QUEUE_LIMIT) {
          done(
            runtimeErrors.create(
              'RUNTIME_EXEC_STDIN_TOO_LARGE',
              `more than ${STDIN_QUEUE_LIMIT} bytes of stdin queued for a command that is not reading it`,
            ),
          );
          return;
        }
        queued.push({ chunk, done });
        queuedBytes += chunk.length;
        pumpStdin();
      },
      final(done) {
        if (exited) {
          done();
          return;
        }
        eofPending = () => done();
        pumpStdin();
      },
    });
    stdin.on('error', () => undefined);

    let resolvePid!: (pid: number) => void;
    let rejectPid!: (err: Error) => void;
    const pid = new Promise<number>((res, rej) => {
      resolvePid = res;
      rejectPid = rej;
    });
    let resolveExit!: (e: ExecExit) => void;
    let rejectExit!: (err: Error) => void;
    const exit = new Promise<ExecExit>((res, rej) => {
      resolveExit = res;
      rejectExit = rej;
    });
    pid.catch(() => undefined);
    exit.catch(() => undefined);
    const finish = () => {
      exited = true;
      this.pending.delete(stream);
      for (const q of queued) q.done();
      queued = [];
      eofPending?.();
      eofPending = undefined;
    };

    this.pending.set(stream, {
      stream,
      onFrame: (f) => {
        switch (f.type) {
          case T.STARTED:
            resolvePid(f.payload.readUInt32BE(0));
            return;
          case T.STDOUT:
            deliver('out', f.payload);
            return;
          case T.STDERR:
            deliver('err', f.payload);
            return;
          case T.STDIN_CREDIT:
            inFlight = Math.max(0, inFlight - f.payload.readUInt32BE(0));
            pumpStdin();
            return;
          case T.EXIT: {
            const e: ExitFrame = decodeExit(f.payload);
            finish();
            stdout.push(null);
            stderr.push(null);
            // The exit is reported once the output has been delivered to whoever reads it.
            void Promise.all([delivered(stdout), delivered(stderr)]).then(() =>
              resolveExit({
                code: e.code,
                signal: e.signal ? (SIGNAL_NAMES.get(e.signal) ?? String(e.signal)) : undefined,
                timedOut: e.timedOut,
              }),
            );
            return;
          }
          case T.ERROR: {
            const err = runtimeErrors.create('RUNTIME_EXEC', `agent: ${f.payload.toString('utf8')}`);
            finish();
            stdout.push(null);
            stderr.push(null);
            rejectPid(err);
            rejectExit(err);
            return;
          }
          default:
            return;
        }
      },
      onLost: (err) => {
        finish();
        // Ended, not destroyed: an 'error' event nobody listens to would take the daemon down.
        stdout.push(null);
        stderr.push(null);
        rejectPid(err);
        rejectExit(err);
      },
    });
    this.send(T.SPAWN, stream, spawnPayload);
    await pid;
    return {
      pid,
      stdin,
      stdout,
      stderr,
      exit,
      resize: async (cols, rows) => {
        if (exited || !req.tty) return;
        const p = Buffer.alloc(4);
        p.writeUInt16BE(Math.max(1, Math.min(65535, Math.floor(cols))), 0);
        p.writeUInt16BE(Math.max(1, Math.min(65535, Math.floor(rows))), 2);
        this.send(T.RESIZE, stream, p);
      },
      signal: async (name) => {
        const sig = signalNumber(name);
        if (!sig) throw runtimeErrors.create('RUNTIME_EXEC_BAD_REQUEST', `unknown signal ${String(name)}`);
        if (!exited) this.send(T.SIGNAL, stream, Buffer.from([sig]));
      },
    };
  }
}
