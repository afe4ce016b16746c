/** The process surface the CLI touches, injected so tests can run the CLI in-process with captured streams. */
export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where SIGWINCH arrives (the process, in production). */
  signals: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
}

export function processIo(): CliIo {
  return {
    // Lazy: touching process.stdin opens it, which only `exec -i` needs.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signals: process,
  };
}
