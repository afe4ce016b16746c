import type { Readable, Writable } from 'node:stream';

/**
 * What the gateway needs from the rest of aibox, as ports. The daemon adapts the runtime, the policy engine and the
 * audit log to these; tests plug in local stand-ins. Nothing here knows about Podman or Rego.
 */

export interface SandboxRef {
  readonly id: string;
  readonly name: string;
}

export interface PtySpec {
  cols: number;
  rows: number;
  /** TERM as the client asked for it (xterm-256color, …). */
  term: string;
}

export interface ExecSpec {
  /** argv inside the sandbox; runs as the sandbox's non-root user. */
  cmd: string[];
  tty?: PtySpec;
  /** Only names that passed the gateway's safe list (plus TERM for a pty). */
  env: Record<string, string>;
  workdir?: string;
}

export interface ExecExit {
  /** Exit status, or null when the process died of a signal. */
  code: number | null;
  /** Signal name without SIG (TERM, KILL, …) when the process died of one. */
  signal?: string;
}

export interface ExecSession {
  stdin: Writable;
  stdout: Readable;
  /** Empty for a tty session: the pty merges stderr into stdout. */
  stderr: Readable;
  resize(cols: number, rows: number): Promise<void>;
  /** Sends a signal (name without SIG) to the process (its foreground group when it has a pty). */
  signal(name: string): Promise<void>;
  /** Settles once the process ended and its output was delivered. */
  readonly exit: Promise<ExecExit>;
  /** The client went away: release the exec and stop the process if it still runs. Idempotent. */
  close(): void;
}

export interface SandboxExecutor {
  /** A running sandbox by name; undefined when none runs under that name. */
  find(name: string): Promise<SandboxRef | undefined>;
  exec(sandbox: SandboxRef, spec: ExecSpec): Promise<ExecSession>;
}

/** What arrives over SSH and asks to run inside a sandbox. */
export type CommandKind = 'shell' | 'exec' | 'sftp' | 'forward';

export interface CommandRequest {
  readonly sandbox: SandboxRef;
  readonly kind: CommandKind;
  /** The argv that will run inside the sandbox. */
  readonly argv: readonly string[];
  /** The command line the client sent (exec), or the forward target `127.0.0.1:PORT`. */
  readonly command?: string;
  /** SHA256 fingerprint of the key that authenticated. */
  readonly keyFingerprint: string;
}

export type CommandDecision = { allow: true } | { allow: false; reason: string; rule?: string };

/** The command door of policy (required: a gateway without one does not start). */
export type CommandPolicy = (request: CommandRequest) => Promise<CommandDecision>;

export type SshAuditAction =
  'ssh.auth' | 'ssh.shell' | 'ssh.exec' | 'ssh.sftp' | 'ssh.forward' | 'ssh.request' | 'ssh.exit';

export interface SshAuditEvent {
  action: SshAuditAction;
  outcome: 'allowed' | 'refused' | 'ended';
  /** Sandbox name (the ssh user name). */
  sandbox: string;
  sandboxId?: string;
  keyFingerprint?: string;
  /** Client address and port as seen on the loopback socket. */
  remote: string;
  /** Why something was refused, in words a user can act on. */
  reason?: string;
  detail?: Record<string, unknown>;
}

/** Where the gateway writes what happened; the daemon points it at the hash-chained audit log. */
export interface SshAuditSink {
  record(event: SshAuditEvent): void;
}
