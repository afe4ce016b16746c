import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { readAnswer, readHead, requestHead } from './http1.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_MESSAGE = 64 * 1024 * 1024;
const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export const WS_OPEN = 1;

/**
 * The client half of RFC 6455 over aiboxd's unix socket, just what the exec stream needs: text and binary messages
 * (fragmented ones reassembled), ping/pong, close, pause/resume for backpressure. No extensions (aiboxd offers
 * none to a client that asks for none). It replaces the `ws` package on the CLI's exec path, whose loading (with
 * tls, https and zlib) cost more than the whole start-up budget of `aibox exec`.
 *
 * Events: open; message (data: Buffer, isBinary: boolean); refused (status: number, body: Buffer) when the upgrade
 * is answered with a plain HTTP answer (emitted once that answer is complete); error (err); close (once the
 * connection is gone, always last).
 */
export class UnixWebSocket extends EventEmitter {
  readyState = 0;
  private socket: net.Socket | undefined;
  private handshake: Buffer | undefined = Buffer.alloc(0);
  private buffered: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentType = 0;
  private fragmentBytes = 0;
  private paused = false;
  private closeEmitted = false;

  constructor(socketPath: string, path: string) {
    super();
    const key = randomBytes(16).toString('base64');
    const socket = net.connect(socketPath);
    socket.on('connect', () =>
      socket.write(
        requestHead('GET', path, {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': key,
          'sec-websocket-version': 13,
        }),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      if (this.handshake === undefined) return this.receive(chunk);
      this.handshake = Buffer.concat([this.handshake, chunk]);
      const parsed = readHead(this.handshake);
      if (!parsed) return;
      if (parsed.head.status !== 101) return this.refusedOnceRead(socket, parsed.head.headers);
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      if (
        parsed.head.headers['sec-websocket-accept'] !== accept ||
        parsed.head.headers['sec-websocket-extensions']
      ) {
        this.emit('error', new Error('the WebSocket handshake answer is not the one asked for'));
        socket.destroy();
        return;
      }
      const rest = this.handshake.subarray(parsed.bodyAt);
      this.handshake = undefined;
      this.socket = socket;
      this.readyState = WS_OPEN;
      this.emit('open');
      if (rest.length > 0) this.receive(rest);
    });
    socket.on('end', () => {
      if (this.handshake === undefined) return;
      const answer = readAnswer(this.handshake);
      this.handshake = undefined;
      if (answer) this.emit('refused', answer.head.status, answer.body);
      else this.emit('error', new Error('aiboxd closed the connection during the WebSocket handshake'));
    });
    socket.on('error', (err: Error) => this.emit('error', err));
    socket.on('close', () => this.closed());
  }

  /** A plain HTTP answer to the upgrade: handed over once its framed body is complete (or at the end). */
  private refusedOnceRead(socket: net.Socket, headers: Record<string, string>): void {
    if (headers['content-length'] === undefined && !headers['transfer-encoding']) return;
    const answer = readAnswer(this.handshake!);
    if (!answer?.complete) return;
    this.handshake = undefined;
    this.emit('refused', answer.head.status, answer.body);
    socket.destroy();
  }

  /** A text message for a string, a binary one for a Buffer; `done` once it is handed to the kernel. */
  send(data: string | Buffer, done?: () => void): void {
    const binary = typeof data !== 'string';
    this.write(binary ? OP.binary : OP.text, binary ? data : Buffer.from(data), done);
  }

  /** Stops reading (and delivering messages) until resume(): the other side then waits on a full socket. */
  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket?.resume();
    this.parse();
  }

  close(code = 1000): void {
    if (this.readyState !== WS_OPEN) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.write(OP.close, payload);
    this.readyState = 2;
    this.socket?.end();
  }

  terminate(): void {
    this.readyState = 2;
    this.socket?.destroy();
  }

  private write(opcode: number, payload: Buffer, done?: () => void): void {
    if (!this.socket || this.readyState !== WS_OPEN) return;
    const len = payload.length;
    const header = Buffer.alloc(len < 126 ? 2 : len < 65536 ? 4 : 10);
    header[0] = 0x80 | opcode;
    if (len < 126) header[1] = 0x80 | len;
    else if (len < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(len, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    // Clients mask every frame (RFC 6455 5.3).
    const mask = randomBytes(4);
    const masked = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
    this.socket.write(Buffer.concat([header, mask, masked]), done);
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.parse();
  }

  private parse(): void {
    while (!this.paused && this.buffered.length >= 2) {
      const b = this.buffered;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) return this.protocolError('a frame larger than 64 MiB');
        len = Number(big);
        at = 10;
      }
      const maskAt = at;
      if (masked) at += 4;
      if (b.length < at + len) return;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= b[maskAt + (i & 3)]!;
      this.buffered = b.subarray(at + len);
      this.frame(fin, opcode, payload);
    }
  }

  private frame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OP.ping:
        return this.write(OP.pong, payload);
      case OP.pong:
        return;
      case OP.close:
        if (this.readyState === WS_OPEN) this.write(OP.close, payload.subarray(0, 2));
        this.readyState = 2;
        this.socket?.end();
        return;
      case OP.text:
      case OP.binary:
      case OP.continuation: {
        if (opcode !== OP.continuation) {
          this.fragments = [];
          this.fragmentBytes = 0;
          this.fragmentType = opcode;
        }
        this.fragments.push(payload);
        this.fragmentBytes += payload.length;
        if (this.fragmentBytes > MAX_MESSAGE) return this.protocolError('a message larger than 64 MiB');
        if (!fin) return;
        const data = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
        this.fragments = [];
        this.emit('message', data, this.fragmentType === OP.binary);
        return;
      }
      default:
        return this.protocolError(`an unknown frame type ${opcode}`);
    }
  }

  private protocolError(what: string): void {
    this.emit('error', new Error(`aiboxd sent ${what}`));
    this.terminate();
  }

  private closed(): void {
    this.readyState = 3;
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.emit('close');
  }
}
