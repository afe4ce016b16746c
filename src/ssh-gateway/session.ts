import type { Channel, ServerChannel, Session } from 'ssh2';
import { messageOf } from '../shared/index.js';
import { refusalText, type ConnectionContext } from './context.js';
import type { CommandKind, ExecExit, ExecSession, PtySpec } from './ports.js';

type Accept = (() => void) | undefined;
type Reject = (() => void) | undefined;
type StartAccept = () => Channel | ServerChannel | undefined;

const REFUSED_EXIT = 126;
const START_FAILED_EXIT = 255;
const DRAIN_GRACE_MS = 5_000;

/**
 * One SSH session channel: collects pty and environment requests, then runs exactly one shell, command or sftp
 * server inside the sandbox and pipes the channel to it. Requests that would open a way out of the sandbox
 * (agent forwarding, X11) are refused, and the refusal is said on stderr once the session runs so users see why.
 */
export class SessionChannel {
  private pty: PtySpec | undefined;
  private readonly env: Record<string, string> = {};
  private readonly notices: string[] = [];
  private exec: ExecSession | undefined;
  private started = false;
  private closed = false;

  constructor(
    private readonly ctx: ConnectionContext,
    session: Session,
  ) {
    session.on('pty', (accept: Accept, reject: Reject, info) => {
      if (this.started) return reject?.();
      this.pty = { cols: info.cols || 80, rows: info.rows || 24, term: info.term || 'xterm' };
      accept?.();
    });
    session.on('env', (accept: Accept, reject: Reject, info) => {
      if (!this.started && this.ctx.envPolicy.permits(info.key, info.val)) {
        this.env[info.key] = info.val;
        return accept?.();
      }
      this.ctx.logger.debug({ name: info.key }, 'environment variable refused');
      reject?.();
    });
    session.on('window-change', (accept: Accept, _reject: Reject, info) => {
      if (this.pty) {
        this.pty.cols = info.cols;
        this.pty.rows = info.rows;
      }
      this.exec?.resize(info.cols, info.rows).catch((err: unknown) => {
        this.ctx.logger.debug({ err: messageOf(err) }, 'resize failed');
      });
      accept?.();
    });
    session.on('signal', (accept: Accept, _reject: Reject, info) => {
      this.exec?.signal(info.name).catch((err: unknown) => {
        this.ctx.logger.debug({ err: messageOf(err) }, 'signal failed');
      });
      accept?.();
    });
    session.on('x11', (_accept: Accept, reject: Reject) => {
      this.refuseRequest(
        'x11',
        'aibox: X11 forwarding is refused: a sandbox gets no access to your display.',
      );
      reject?.();
    });
    session.on('auth-agent', (_accept: Accept, reject: Reject) => {
      this.refuseRequest(
        'auth-agent',
        'aibox: agent forwarding (-A) is refused: your SSH keys stay outside the sandbox (git pushes go through the git gateway).',
      );
      reject?.();
    });
    session.on('shell', (accept: StartAccept, reject: Reject) => {
      void this.start('shell', [this.ctx.config.shell, '-l'], undefined, accept, reject);
    });
    session.on('exec', (accept: StartAccept, reject: Reject, info) => {
      void this.start('exec', [this.ctx.config.shell, '-c', info.command], info.command, accept, reject);
    });
    session.on('subsystem', (accept: StartAccept, reject: Reject, info) => {
      if (info.name !== 'sftp') {
        this.refuseRequest(`subsystem:${info.name}`, '');
        return reject?.();
      }
      void this.start('sftp', [this.ctx.config.sftpServer], undefined, accept, reject);
    });
    session.on('close', () => {
      this.closed = true;
      this.exec?.close();
    });
  }

  private refuseRequest(request: string, notice: string): void {
    this.ctx.record({
      action: 'ssh.request',
      outcome: 'refused',
      reason: notice || 'not offered',
      detail: { request },
    });
    if (notice) this.notices.push(notice);
  }

  private async start(
    kind: CommandKind,
    argv: string[],
    command: string | undefined,
    accept: StartAccept,
    reject: Reject,
  ): Promise<void> {
    if (this.started) return reject?.();
    this.started = true;
    // Accept at once: OpenSSH sends channel data right after the request without waiting for the reply, and ssh2
    // drops data that arrives before accept(). The channel buffers it until the process is there to read it.
    const channel = accept() as ServerChannel | undefined;
    if (!channel) return;
    const action = kind === 'shell' ? 'ssh.shell' : kind === 'sftp' ? 'ssh.sftp' : 'ssh.exec';
    const detail = { argv, ...(this.pty ? { tty: true } : {}) };

    const decision = await this.ctx.decide(kind, argv, command);
    if (!decision.allow) {
      this.ctx.record({
        action,
        outcome: 'refused',
        reason: decision.reason,
        detail: { ...detail, rule: decision.rule },
      });
      return failWith(channel, refusalText(decision), REFUSED_EXIT);
    }

    const tty = kind === 'sftp' ? undefined : this.pty;
    const env = { ...this.env, ...(tty ? { TERM: tty.term } : {}) };
    let exec: ExecSession;
    try {
      exec = await this.ctx.executor.exec(this.ctx.sandbox, { cmd: argv, env, ...(tty ? { tty } : {}) });
    } catch (err) {
      this.ctx.logger.warn({ err: messageOf(err), kind }, 'could not start a process in the sandbox');
      this.ctx.record({ action, outcome: 'refused', reason: `could not start: ${messageOf(err)}`, detail });
      return failWith(
        channel,
        `aibox: could not start ${kind} in sandbox ${this.ctx.sandbox.name}: ${messageOf(err)}`,
        START_FAILED_EXIT,
      );
    }
    if (this.closed) return exec.close();
    this.exec = exec;
    const forget = this.ctx.track(exec);
    this.ctx.record({ action, outcome: 'allowed', detail });
    if (kind !== 'sftp') for (const notice of this.notices) channel.stderr.write(`${notice}\r\n`);

    await pipeExec(channel, exec, (exit) => {
      this.ctx.record({ action: 'ssh.exit', outcome: 'ended', detail: { kind, ...exit } });
    });
    forget();
  }
}

function failWith(channel: ServerChannel, message: string, code: number): void {
  channel.stderr.write(`${message}\r\n`);
  channel.exit(code);
  channel.end();
}

/**
 * Wires a channel to a process: client bytes to stdin (EOF closes stdin), stdout and stderr back, then the exit
 * status (or signal) once all output was written, then EOF and close. The client closing the channel early ends
 * the process.
 */
export async function pipeExec(
  channel: ServerChannel,
  exec: ExecSession,
  onExit: (exit: { code: number | null; signal?: string }) => void,
): Promise<void> {
  channel.pipe(exec.stdin);
  exec.stdin.on('error', () => undefined);
  const drained = Promise.all([ended(exec.stdout), ended(exec.stderr)]);
  exec.stdout.pipe(channel, { end: false });
  exec.stderr.pipe(channel.stderr, { end: false });
  channel.on('close', () => exec.close());
  const exit: ExecExit = await exec.exit.catch((): ExecExit => ({ code: START_FAILED_EXIT }));
  // Output normally ends before the exit is known; a stream the executor never ends must not hold the channel.
  await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, DRAIN_GRACE_MS).unref())]);
  onExit(exit);
  if (exit.code === null && exit.signal) channel.exit(exit.signal, false, '');
  else channel.exit(exit.code ?? START_FAILED_EXIT);
  channel.end();
}

function ended(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}
