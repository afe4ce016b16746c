/**
 * TEST STAND-IN, not a sandbox: runs the SSH gateway's commands as local processes of an unprivileged user
 * (nobody) so the gateway's protocol handling can be tested with the real OpenSSH client without Podman. The real
 * executor (src/daemon/services/ssh-gateway.ts) runs them inside the gVisor sandbox; test/integration/ssh.test.ts
 * covers that path. A pty comes from a few lines of Python (`pty.fork`), with a side pipe for resize and signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough, type Writable } from 'node:stream';
import type {
  ExecExit,
  ExecSession,
  ExecSpec,
  SandboxExecutor,
  SandboxRef,
} from '../../src/ssh-gateway/index.js';

const PTY_HELPER = `
import os, pty, sys, select, struct, fcntl, termios, signal
cols, rows = int(sys.argv[1]), int(sys.argv[2]); argv = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.execvp(argv[0], argv)
fds = [0, fd, 3]; buf = b''
while True:
    try:
        r, _, _ = select.select(fds, [], [])
    except InterruptedError:
        continue
    if fd in r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            break
        os.write(1, data)
    if 0 in r:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            fds.remove(0)
    if 3 in r:
        data = os.read(3, 4096)
        if not data:
            fds.remove(3)
            continue
        buf += data
        while b'\\n' in buf:
            line, buf = buf.split(b'\\n', 1)
            parts = line.decode().split()
            if parts[0] == 'resize':
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', int(parts[2]), int(parts[1]), 0, 0))
            elif parts[0] == 'signal':
                try:
                    os.killpg(os.tcgetpgrp(fd), getattr(signal, 'SIG' + parts[1]))
                except Exception:
                    pass
_, status = os.waitpid(pid, 0)
if os.WIFSIGNALED(status):
    sys.exit(128 + os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
`;

export interface LocalExecutorOptions {
  /** name -> ref of the "sandboxes" this executor pretends to run. */
  sandboxes: Record<string, string>;
  /** Working directory and HOME of every process (must be writable by uid). */
  workdir: string;
  uid?: number;
  gid?: number;
}

export class LocalProcessExecutor implements SandboxExecutor {
  readonly execs: ExecSpec[] = [];
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly opts: LocalExecutorOptions) {}

  find(name: string): Promise<SandboxRef | undefined> {
    const id = this.opts.sandboxes[name];
    return Promise.resolve(id ? { id, name } : undefined);
  }

  exec(_sandbox: SandboxRef, spec: ExecSpec): Promise<ExecSession> {
    this.execs.push(spec);
    const uid = this.opts.uid ?? (process.getuid?.() === 0 ? 65534 : undefined);
    const gid = this.opts.gid ?? (uid !== undefined ? 65534 : undefined);
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: this.opts.workdir, ...spec.env };
    const argv = spec.tty
      ? ['/usr/bin/python3', '-c', PTY_HELPER, String(spec.tty.cols), String(spec.tty.rows), ...spec.cmd]
      : spec.cmd;
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: this.opts.workdir,
      env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
    });
    this.children.add(child);
    const control = child.stdio[3] as Writable;
    control.on('error', () => undefined);
    const stderr = spec.tty ? endedStream() : child.stderr;
    const exit = new Promise<ExecExit>((resolve) => {
      child.on('close', (code, signal) => {
        this.children.delete(child);
        if (spec.tty && code !== null && code > 128) resolve({ code: null, signal: sigName(code - 128) });
        else resolve(signal ? { code: null, signal: signal.replace(/^SIG/, '') } : { code: code ?? 255 });
      });
      child.on('error', () => resolve({ code: 127 }));
    });
    return Promise.resolve({
      stdin: child.stdin,
      stdout: child.stdout,
      stderr,
      exit,
      resize: (cols, rows) => {
        if (spec.tty) control.write(`resize ${cols} ${rows}\n`);
        return Promise.resolve();
      },
      signal: (name) => {
        if (spec.tty) control.write(`signal ${name}\n`);
        else child.kill(`SIG${name}` as NodeJS.Signals);
        return Promise.resolve();
      },
      close: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    });
  }

  killAll(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }
}

function endedStream(): PassThrough {
  const s = new PassThrough();
  s.end();
  return s;
}

function sigName(n: number): string {
  const names: Record<number, string> = { 1: 'HUP', 2: 'INT', 9: 'KILL', 15: 'TERM' };
  return names[n] ?? String(n);
}
