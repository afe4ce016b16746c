import { PassThrough, type Readable, type Writable } from 'node:stream';
import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { runtimeErrors } from './errors.js';
import { ptyCommand, ptyResizeCommand } from './pty.js';
import { EXEC_HELPER_PATH, SECCOMP_BPF_PATH } from './container-spec.js';

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
}

export interface ExecSession {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  resize(cols: number, rows: number): Promise<void>;
  /** Resolves with the command's exit code once its output has been delivered. */
  exit: Promise<number>;
}

/**
 * Runs a command in a sandbox. Every command goes through aibox-exec, which installs the sandbox's seccomp filter
 * first (runsc applies the OCI profile only to the first process, not to exec'd ones).
 */
export async function startExec(
  docker: Docker,
  containerId: string,
  options: ExecOptions,
): Promise<ExecSession> {
  const container = docker.getContainer(containerId);
  const tty = options.tty ?? false;
  const helper = [EXEC_HELPER_PATH, SECCOMP_BPF_PATH, String(options.maxProcesses)];
  // A terminal is made inside the sandbox (runsc's exec rejects --tty): see pty.ts.
  const token = randomBytes(8).toString('hex');
  const cmd = tty ? ptyCommand(token, options.cols ?? 80, options.rows ?? 24, options.cmd) : options.cmd;
  const exec = await container
    .exec({
      Cmd: [...helper, ...cmd],
      AttachStdin: options.stdin ?? false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
      ...(options.workdir ? { WorkingDir: options.workdir } : {}),
    })
    .catch((err: unknown) => {
      throw runtimeErrors.create('RUNTIME_EXEC', `cannot exec in sandbox: ${(err as Error).message}`);
    });
  const stream = await exec.start({ hijack: true, stdin: options.stdin ?? false, Tty: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  docker.modem.demuxStream(stream, stdout, stderr);
  const stdin = new PassThrough();
  if (options.stdin) {
    stdin.pipe(stream);
  } else {
    stdin.resume();
  }
  const exit = new Promise<number>((resolve, reject) => {
    const finish = () => {
      stdout.end();
      stderr.end();
      // Close our side of the attach connection, or Podman keeps the exec session (and its conmon) alive.
      stream.destroy();
      exec.inspect().then(
        (info) => resolve(info.ExitCode ?? 1),
        (err: unknown) =>
          reject(runtimeErrors.create('RUNTIME_EXEC', `exec status unknown: ${(err as Error).message}`)),
      );
    };
    stream.once('end', finish);
    stream.once('error', finish);
  });
  return {
    stdin,
    stdout,
    stderr,
    resize: async (cols, rows) => {
      if (!tty) return;
      await execBuffered(docker, containerId, {
        cmd: ptyResizeCommand(token, cols, rows),
        maxProcesses: options.maxProcesses,
      }).catch(() => undefined);
    },
    exit,
  };
}

/** Runs a command and collects its output (capped), for programs using the session API. */
export async function execBuffered(
  docker: Docker,
  containerId: string,
  options: ExecOptions,
  maxBytes = 4 * 1024 * 1024,
): Promise<{ exitCode: number; stdout: string; stderr: string; truncated: boolean }> {
  const session = await startExec(docker, containerId, { ...options, tty: false, stdin: false });
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
  const exitCode = await session.exit;
  return { exitCode, stdout: out(), stderr: err(), truncated };
}
