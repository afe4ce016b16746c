/**
 * The wire protocol between aiboxd and the in-sandbox agent (libexec/aibox-agent.c). Every frame is
 *   u32 length | u8 type | u32 stream | payload[length]        (big-endian, length ≤ MAX_FRAME)
 * on one unix-socket connection per sandbox; `stream` names the command a frame belongs to (0: the channel).
 * Output flows under credit: the agent reads a command's stdout/stderr only while it holds credit for that stream
 * (WINDOW at spawn, topped up by CREDIT as the daemon's reader consumes), and the daemon sends stdin only within
 * the credit the agent returns (STDIN_CREDIT) as the command reads it. Neither side buffers more than a window per
 * command.
 */
export const PROTOCOL_VERSION = 1;
export const HEADER = 9;
export const MAX_FRAME = 1024 * 1024;
/** Initial output credit and stdin window per command (the agent's WINDOW). */
export const WINDOW = 256 * 1024;

export const T = {
  // daemon -> agent
  SPAWN: 1,
  STDIN: 2,
  STDIN_EOF: 3,
  RESIZE: 4,
  SIGNAL: 5,
  CREDIT: 6,
  LIST: 7,
  KILL: 8,
  PING: 9,
  // agent -> daemon
  HELLO: 32,
  STARTED: 33,
  STDOUT: 34,
  STDERR: 35,
  EXIT: 36,
  ERROR: 37,
  STDIN_CREDIT: 38,
  LIST_REPLY: 39,
  KILL_REPLY: 40,
  PONG: 41,
} as const;

export interface Frame {
  type: number;
  stream: number;
  payload: Buffer;
}

export function encodeFrame(type: number, stream: number, payload: Buffer = EMPTY): Buffer {
  if (payload.length > MAX_FRAME) throw new RangeError(`frame of ${payload.length} bytes over ${MAX_FRAME}`);
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32BE(payload.length, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32BE(stream >>> 0, 5);
  return payload.length ? Buffer.concat([head, payload]) : head;
}

const EMPTY = Buffer.alloc(0);

/** Splits a byte stream into frames; throws on a frame over MAX_FRAME (the channel is then unusable). */
export class FrameDecoder {
  private buf: Buffer = EMPTY;

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: Frame[] = [];
    let off = 0;
    while (this.buf.length - off >= HEADER) {
      const len = this.buf.readUInt32BE(off);
      if (len > MAX_FRAME) throw new RangeError(`frame of ${len} bytes over ${MAX_FRAME}`);
      if (this.buf.length - off < HEADER + len) break;
      frames.push({
        type: this.buf.readUInt8(off + 4),
        stream: this.buf.readUInt32BE(off + 5),
        payload: this.buf.subarray(off + HEADER, off + HEADER + len),
      });
      off += HEADER + len;
    }
    this.buf = off === this.buf.length ? EMPTY : this.buf.subarray(off);
    return frames;
  }
}

export interface SpawnRequest {
  argv: string[];
  env: Record<string, string>;
  workdir: string;
  tty: boolean;
  stdin: boolean;
  cols: number;
  rows: number;
  /** 0: none. */
  timeoutMs: number;
  uid: number;
  gid: number;
  maxProcesses: number;
}

/**
 * SPAWN payload: u8 flags (1 tty, 2 stdin) u16 cols u16 rows u32 timeoutMs u32 uid u32 gid u32 nproc u32 argc
 * u32 envc, then NUL-terminated strings: workdir, argv…, env… ("K=V"). A NUL inside any string is refused here
 * (it would silently cut the argument).
 */
export function encodeSpawn(req: SpawnRequest): Buffer {
  const strings = [req.workdir, ...req.argv, ...Object.entries(req.env).map(([k, v]) => `${k}=${v}`)];
  for (const [k] of Object.entries(req.env)) {
    if (!k || k.includes('=')) throw new RangeError(`invalid environment variable name ${JSON.stringify(k)}`);
  }
  if (strings.some((s) => s.includes('\0'))) throw new RangeError('a NUL byte in an argument or variable');
  if (req.argv.length === 0) throw new RangeError('an empty command');
  const head = Buffer.alloc(29);
  head.writeUInt8((req.tty ? 1 : 0) | (req.stdin ? 2 : 0), 0);
  head.writeUInt16BE(clamp(req.cols, 1, 65535), 1);
  head.writeUInt16BE(clamp(req.rows, 1, 65535), 3);
  head.writeUInt32BE(clamp(req.timeoutMs, 0, 0xffffffff), 5);
  head.writeUInt32BE(req.uid, 9);
  head.writeUInt32BE(req.gid, 13);
  head.writeUInt32BE(req.maxProcesses, 17);
  head.writeUInt32BE(req.argv.length, 21);
  head.writeUInt32BE(Object.keys(req.env).length, 25);
  const body = Buffer.from(strings.map((s) => `${s}\0`).join(''), 'utf8');
  const out = Buffer.concat([head, body]);
  if (out.length > MAX_FRAME) throw new RangeError(`command and environment over ${MAX_FRAME} bytes`);
  return out;
}

export function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export interface ExitFrame {
  code: number;
  signal: number;
  timedOut: boolean;
}

export function decodeExit(p: Buffer): ExitFrame {
  return { code: p.readInt32BE(0), signal: p.readUInt8(4), timedOut: p.readUInt8(5) === 1 };
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  uid: number;
  state: string;
  cmd: string;
}

export function decodeList(p: Buffer): ProcessInfo[] {
  return p
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, ppid, pgid, uid, state, ...cmd] = line.split('\t');
      return {
        pid: Number(pid),
        ppid: Number(ppid),
        pgid: Number(pgid),
        uid: Number(uid),
        state: state ?? '?',
        cmd: cmd.join('\t'),
      };
    });
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(Number.isFinite(n) ? n : lo)));
}

/** Linux signal numbers by name (what SIGNAL and KILL carry). */
export const SIGNAL_NUMBERS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  KILL: 9,
  USR1: 10,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  WINCH: 28,
};

export function signalNumber(name: string | number): number | undefined {
  if (typeof name === 'number') return Number.isInteger(name) && name > 0 && name < 65 ? name : undefined;
  return SIGNAL_NUMBERS[name.toUpperCase().replace(/^SIG/, '')];
}
