import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  HEADER,
  MAX_FRAME,
  T,
  decodeExit,
  decodeList,
  encodeFrame,
  encodeSpawn,
  signalNumber,
  type SpawnRequest,
} from '../../src/runtime/agent-protocol.js';

const req: SpawnRequest = {
  argv: ['sh', '-c', 'echo hi'],
  env: { A: 'b', EMPTY: '' },
  workdir: '/workspace',
  tty: true,
  stdin: true,
  cols: 100,
  rows: 30,
  timeoutMs: 1500,
  uid: 1001,
  gid: 1002,
  maxProcesses: 100,
};

describe('agent protocol', () => {
  it('frames as u32 length | u8 type | u32 stream | payload, big-endian', () => {
    const f = encodeFrame(T.STDIN, 0x01020304, Buffer.from('abc'));
    expect([...f]).toEqual([0, 0, 0, 3, T.STDIN, 1, 2, 3, 4, 0x61, 0x62, 0x63]);
    expect(encodeFrame(T.PING, 7)).toHaveLength(HEADER);
  });

  it('decodes frames split and merged across chunks', () => {
    const bytes = Buffer.concat([
      encodeFrame(T.STDOUT, 1, Buffer.from('hello')),
      encodeFrame(T.EXIT, 1, Buffer.from([0, 0, 0, 7, 0, 0])),
      encodeFrame(T.PONG, 2),
    ]);
    const d = new FrameDecoder();
    const frames = [...bytes].flatMap((b) => d.push(Buffer.from([b])));
    expect(frames.map((f) => [f.type, f.stream, f.payload.toString('hex')])).toEqual([
      [T.STDOUT, 1, Buffer.from('hello').toString('hex')],
      [T.EXIT, 1, '000000070000'],
      [T.PONG, 2, ''],
    ]);
    expect(new FrameDecoder().push(bytes)).toHaveLength(3);
  });

  it('refuses a frame over the maximum instead of buffering it', () => {
    const head = Buffer.alloc(HEADER);
    head.writeUInt32BE(MAX_FRAME + 1, 0);
    expect(() => new FrameDecoder().push(head)).toThrow(/over/);
    expect(() => encodeFrame(T.STDIN, 1, Buffer.alloc(MAX_FRAME + 1))).toThrow(RangeError);
  });

  it('encodes a spawn exactly as the agent parses it', () => {
    const p = encodeSpawn(req);
    expect(p.readUInt8(0)).toBe(3);
    expect(p.readUInt16BE(1)).toBe(100);
    expect(p.readUInt16BE(3)).toBe(30);
    expect(p.readUInt32BE(5)).toBe(1500);
    expect(p.readUInt32BE(9)).toBe(1001);
    expect(p.readUInt32BE(13)).toBe(1002);
    expect(p.readUInt32BE(17)).toBe(100);
    expect(p.readUInt32BE(21)).toBe(3);
    expect(p.readUInt32BE(25)).toBe(2);
    expect(p.subarray(29).toString('utf8').split('\0')).toEqual([
      '/workspace',
      'sh',
      '-c',
      'echo hi',
      'A=b',
      'EMPTY=',
      '',
    ]);
  });

  it('refuses what the agent would misread: NUL bytes, bad variable names, an empty command, oversize', () => {
    expect(() => encodeSpawn({ ...req, argv: ['a\0b'] })).toThrow(/NUL/);
    expect(() => encodeSpawn({ ...req, env: { 'A=B': 'x' } })).toThrow(/name/);
    expect(() => encodeSpawn({ ...req, env: { '': 'x' } })).toThrow(/name/);
    expect(() => encodeSpawn({ ...req, argv: [] })).toThrow(/empty/);
    expect(() => encodeSpawn({ ...req, argv: ['x'.repeat(MAX_FRAME)] })).toThrow(/over/);
  });

  it('decodes exits, process lists and signal names', () => {
    expect(decodeExit(Buffer.from([0, 0, 0, 137, 9, 1]))).toEqual({ code: 137, signal: 9, timedOut: true });
    expect(decodeList(Buffer.from('12\t1\t12\t1001\tS\tsleep 300\n13\t12\t12\t1001\tR\t\n'))).toEqual([
      { pid: 12, ppid: 1, pgid: 12, uid: 1001, state: 'S', cmd: 'sleep 300' },
      { pid: 13, ppid: 12, pgid: 12, uid: 1001, state: 'R', cmd: '' },
    ]);
    expect(signalNumber('SIGTERM')).toBe(15);
    expect(signalNumber('kill')).toBe(9);
    expect(signalNumber(0)).toBeUndefined();
    expect(signalNumber('NOPE')).toBeUndefined();
  });
});
