import type { Readable, Writable } from 'node:stream';
import { runtimeErrors } from './errors.js';
import { AgentChannel, type ExecExit } from './agent-channel.js';
import type { ProcessInfo } from './agent-protocol.js';

export type { ExecExit } from './agent-channel.js';
export type { ProcessInfo } from './agent-protocol.js';

export interface ExecOptions {
  cmd: string[];
  tty?: boolean;
  stdin?: boolean;
  env?: Record<string, string>;
  workdir?: string;
  cols?: number;
  rows?: number;
  /** RLIMIT_NPROC for the command (the sandbox profile's `processes`). */
  maxProcesses: number;
  /** Kill the command's whole process group after this many ms (exit 137, `timedOut`). */
  timeoutMs?: number;
}

export interface ExecSession {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  resize(cols: number, rows: number): Promise<void>;
  /** Resolves with the command's exit code (128+signal when killed) once its output has been delivered. */
  exit: Promise<number>;
  /** The command's pid inside the sandbox. */
  pid?: number;
  /** Sends a signal to the command's process group (a name like "TERM" or a number). */
  signal?(name: string | number): Promise<void>;
  /** The exit with its signal and whether the timeout killed it. */
  result?: Promise<ExecExit>;
}

export interface BufferedResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
}

/** How long a sandbox's agent has to answer after its container starts (gVisor boot included). */
const START_TIMEOUT_MS = 15_000;
/** Reconnecting to a running agent (after a daemon restart or a broken connection). */
const ADOPT_TIMEOUT_MS = 3_000;

export interface AgentHost {
  /** Host path of the agent's socket for a container (its directory is bind-mounted into the sandbox). */
  socketOf(containerId: string): Promise<string>;
  /** Called when a running sandbox's agent cannot be reached: the sandbox must not stay "running" without it. */
  unreachable(containerId: string, err: Error): Promise<void>;
  /** uid/gid of the sandbox user inside (commands never run as the agent's root). */
  readonly commandUser: { uid: number; gid: number };
}

/**
 * Every sandbox's exec channel, one per container: opened when the container starts (before the sandbox is
 * running), re-opened on demand after a daemon restart or a broken connection, and if that fails the host is told
 * (it stops the sandbox: fail closed). There is no fallback to `podman exec`.
 */
export class AgentChannels {
  private readonly channels = new Map<string, Promise<AgentChannel>>();

  constructor(private readonly host: AgentHost) {}

  /** Opens the channel of a container that has just started. */
  async open(containerId: string): Promise<void> {
    await this.connect(containerId, START_TIMEOUT_MS);
  }

  forget(containerId: string): void {
    const ch = this.channels.get(containerId);
    this.channels.delete(containerId);
    void ch?.then((c) => c.close()).catch(() => undefined);
  }

  closeAll(): void {
    for (const id of [...this.channels.keys()]) this.forget(id);
  }

  private connect(containerId: string, timeoutMs: number): Promise<AgentChannel> {
    const opening = this.host
      .socketOf(containerId)
      .then((sock) => AgentChannel.connect(sock, timeoutMs))
      .then((ch) => {
        ch.onClose(() => {
          if (this.channels.get(containerId) === opening) this.channels.delete(containerId);
        });
        return ch;
      });
    this.channels.set(containerId, opening);
    opening.catch(() => {
      if (this.channels.get(containerId) === opening) this.channels.delete(containerId);
    });
    return opening;
  }

  /** The live channel of a running container, re-established if needed; if it cannot be, the sandbox goes. */
  async channel(containerId: string): Promise<AgentChannel> {
    const existing = this.channels.get(containerId);
    if (existing) {
      const ch = await existing.catch(() => undefined);
      if (ch?.alive) return ch;
    }
    try {
      return await this.connect(containerId, ADOPT_TIMEOUT_MS);
    } catch (err) {
      await this.host.unreachable(containerId, err as Error).catch(() => undefined);
      throw runtimeErrors.create(
        'RUNTIME_AGENT_UNAVAILABLE',
        `the sandbox's exec agent does not answer (${(err as Error).message}); the sandbox was stopped`,
      );
    }
  }

  async exec(containerId: string, options: ExecOptions): Promise<ExecSession> {
    const ch = await this.channel(containerId);
    const tty = options.tty ?? false;
    const cmd = await ch.spawn({
      argv: options.cmd,
      env: options.env ?? {},
      workdir: options.workdir ?? '/workspace',
      tty,
      stdin: options.stdin ?? false,
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      timeoutMs: options.timeoutMs ?? 0,
      uid: this.host.commandUser.uid,
      gid: this.host.commandUser.gid,
      maxProcesses: options.maxProcesses,
    });
    const pid = await cmd.pid;
    if (!(options.stdin ?? false)) cmd.stdin.end();
    const exit = cmd.exit.then((e) => e.code);
    // Callers that read only `result` (execBuffered) must not leave this one unhandled: a lost agent would crash
    // the daemon. Those that await `exit` still get the rejection.
    exit.catch(() => undefined);
    return {
      stdin: cmd.stdin,
      stdout: cmd.stdout,
      stderr: cmd.stderr,
      resize: cmd.resize,
      signal: cmd.signal,
      exit,
      result: cmd.exit,
      pid,
    };
  }

  /** Runs a command and collects its output (each stream capped at `maxBytes`; the rest is read and dropped). */
  async execBuffered(
    containerId: string,
    options: ExecOptions,
    maxBytes = 4 * 1024 * 1024,
  ): Promise<BufferedResult> {
    const session = await this.exec(containerId, { ...options, tty: false, stdin: false });
    let truncated = false;
    const collect = (stream: Readable) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        if (size + c.length > maxBytes) {
          truncated = true;
          return;
        }
        size += c.length;
        chunks.push(c);
      });
      return () => Buffer.concat(chunks).toString('utf8');
    };
    const out = collect(session.stdout);
    const err = collect(session.stderr);
    const result = await session.result!;
    return { exitCode: result.code, stdout: out(), stderr: err(), truncated, timedOut: result.timedOut };
  }

  async processes(containerId: string): Promise<ProcessInfo[]> {
    return (await this.channel(containerId)).processes();
  }

  async kill(containerId: string, pid: number, signal: string | number): Promise<void> {
    await (await this.channel(containerId)).kill(pid, signal);
  }

  async ping(containerId: string): Promise<number> {
    return (await this.channel(containerId)).ping();
  }
}
