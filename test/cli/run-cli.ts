import { spawn } from 'node:child_process';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/index.js';
import type { CliIo } from '../../src/cli/index.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  socket?: string;
  stdin?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs the CLI in-process with captured streams (fast; the code path of the binary minus argv/exit). */
export async function aibox(argv: string[], opts: RunOptions = {}): Promise<CliRun> {
  const stdout = new Capture();
  const stderr = new Capture();
  const stdin = new PassThrough();
  if (opts.stdin !== undefined) stdin.end(opts.stdin);
  const io: CliIo = {
    stdin,
    stdout,
    stderr,
    env: { ...(opts.socket ? { AIBOX_SOCKET: opts.socket } : {}), ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    signals: new PassThrough(),
  };
  const code = await runCli(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'src/bin/aibox.ts');

/** Runs the real `aibox` binary as a separate process (through tsx): real argv, stdin pipe and exit code. */
export function aiboxProcess(
  argv: string[],
  opts: RunOptions & { uid?: number; gid?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...argv], {
      cwd: opts.cwd ?? ROOT,
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        ...(opts.socket ? { AIBOX_SOCKET: opts.socket } : {}),
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

/** An error printed the way the CLI promises: error/hint/code lines and no stack frames. */
export function printedError(stderr: string): {
  message?: string;
  hint?: string;
  code?: string;
  hasStack: boolean;
} {
  const line = (prefix: string) =>
    stderr
      .split('\n')
      .find((l) => l.startsWith(prefix))
      ?.slice(prefix.length);
  return {
    message: line('error: '),
    hint: line('hint: '),
    code: line('code: '),
    hasStack: /\n\s+at .+:\d+:\d+/.test(stderr),
  };
}
