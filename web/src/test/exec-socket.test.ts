import { describe, expect, it } from 'vitest';
import { ExecSocket, execUrl } from '../lib/exec-socket.js';

class FakeSocket extends EventTarget {
  static readonly OPEN = 1;
  readyState = 0;
  binaryType = 'blob';
  sent: (string | Uint8Array)[] = [];
  closedWith: number | undefined;
  constructor(readonly url: string) {
    super();
  }
  send(d: string | Uint8Array) {
    this.sent.push(d);
  }
  close(code: number) {
    this.closedWith = code;
  }
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event('open'));
  }
  receive(data: string | ArrayBuffer) {
    this.dispatchEvent(new MessageEvent('message', { data }));
  }
}

function setup() {
  const events: string[] = [];
  let sock: FakeSocket | undefined;
  const exec = new ExecSocket(
    'ws://h/v1/sandboxes/a/exec/ws',
    { cmd: ['sh'], cols: 80, rows: 24 },
    {
      open: () => events.push('open'),
      output: (d, s) => events.push(`${s}:${new TextDecoder().decode(d)}`),
      exit: (c) => events.push(`exit:${c}`),
      error: (e) => events.push(`error:${e.code}`),
      closed: () => events.push('closed'),
    },
    (u) => (sock = new FakeSocket(u)) as unknown as WebSocket,
  );
  return { exec, sock: sock!, events };
}

describe('ExecSocket', () => {
  it('sends the start message first, with a tty, stdin and the terminal size', () => {
    const { sock, events } = setup();
    sock.open();
    expect(JSON.parse(sock.sent[0] as string)).toEqual({
      type: 'start',
      spec: { cmd: ['sh'], cols: 80, rows: 24, tty: true, stdin: true },
    });
    expect(events).toEqual(['open']);
    expect(sock.binaryType).toBe('arraybuffer');
  });

  it('frames keystrokes as stdin (stream byte 0) and resizes as control messages', () => {
    const { exec, sock } = setup();
    exec.input('ls\r'); // before open: dropped, never sent ahead of the start message
    sock.open();
    exec.input('ls\r');
    exec.resize(120, 40);
    exec.resize(0, 40);
    expect(Array.from(sock.sent[1] as Uint8Array)).toEqual([0, 108, 115, 13]);
    expect(JSON.parse(sock.sent[2] as string)).toEqual({ type: 'resize', cols: 120, rows: 40 });
    expect(sock.sent).toHaveLength(3);
  });

  it('delivers stdout and stderr frames, then the exit code; a close after exit is not an error', () => {
    const { sock, events } = setup();
    sock.open();
    sock.receive(new Uint8Array([1, 104, 105]).buffer);
    sock.receive(new Uint8Array([2, 33]).buffer);
    sock.receive(JSON.stringify({ type: 'exit', exitCode: 3 }));
    sock.dispatchEvent(new Event('close'));
    expect(events).toEqual(['open', 'stdout:hi', 'stderr:!', 'exit:3']);
  });

  it('reports a daemon error and an unexpected close', () => {
    const a = setup();
    a.sock.open();
    a.sock.receive(
      JSON.stringify({ type: 'error', error: { code: 'POLICY_DENIED', message: 'no', hint: '' } }),
    );
    expect(a.events).toContain('error:POLICY_DENIED');
    const b = setup();
    b.sock.open();
    b.sock.dispatchEvent(new Event('close'));
    expect(b.events).toEqual(['open', 'closed']);
  });

  it('builds a same-origin ws or wss URL with the sandbox name encoded', () => {
    expect(execUrl({ protocol: 'https:', host: 'box:8443' }, 'a b')).toBe(
      'wss://box:8443/v1/sandboxes/a%20b/exec/ws',
    );
    expect(execUrl({ protocol: 'http:', host: '127.0.0.1:7070' }, 'x')).toBe(
      'ws://127.0.0.1:7070/v1/sandboxes/x/exec/ws',
    );
  });
});
