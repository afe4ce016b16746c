import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import {
  EXEC_STREAM,
  ExecControlMessage,
  ExecRequest,
  ExecStartMessage,
  isAiboxError,
  messageOf,
} from '../../shared/index.js';
import type { ExecSession } from '../../runtime/index.js';
import { daemonErrors } from '../errors.js';
import type { DaemonServices } from '../services/index.js';

/** How long an opened exec WebSocket may wait for its start message. */
const START_TIMEOUT_MS = 10_000;

/**
 * A missing working directory is the caller's mistake: say so with a code instead of answering 200 with the
 * runtime's internal error text. One short extra exec, only when a directory was asked for.
 */
export async function checkWorkdir(services: DaemonServices, name: string, workdir: string): Promise<void> {
  const probe = await services.sandboxes.execBuffered(name, { cmd: ['test', '-d', workdir] });
  if (probe.exitCode !== 0) {
    throw daemonErrors.create('EXEC_WORKDIR_NOT_FOUND', `no directory ${workdir} in sandbox "${name}"`, {
      name,
      workdir,
    });
  }
}

/**
 * Streaming exec: the first text frame is the start message with the spec; then binary frames = stream byte +
 * data, text frames = control messages (see shared/api/system.ts). Whoever may act on the sandbox was checked
 * before the upgrade (the access preHandler); policy is asked here, once the command is known.
 */
export async function streamExec(
  services: DaemonServices,
  socket: WebSocket,
  name: string,
  log: FastifyBaseLogger,
): Promise<void> {
  const sendControl = (m: ExecControlMessage) => socket.send(JSON.stringify(m));
  let session: ExecSession | undefined;
  let start: ((text: string) => void) | undefined;
  // The client may send stdin before the exec exists: queue frames until the session is there.
  const pending: [Buffer, boolean][] = [];
  let closed = false;
  const deliver = (data: Buffer, isBinary: boolean) => {
    if (!session) return;
    if (isBinary) {
      if (data[0] === EXEC_STREAM.stdin) session.stdin.write(data.subarray(1));
      return;
    }
    const parsed = ExecControlMessage.safeParse(safeJson(data.toString('utf8')));
    if (!parsed.success) return;
    if (parsed.data.type === 'resize') void session.resize(parsed.data.cols, parsed.data.rows);
    if (parsed.data.type === 'stdin-eof') session.stdin.end();
  };
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (start && !isBinary) {
      const take = start;
      start = undefined;
      take(data.toString('utf8'));
    } else if (session) deliver(data, isBinary);
    else pending.push([data, isBinary]);
  });
  socket.on('close', () => {
    closed = true;
    session?.stdin.end();
    // Gave up before starting: stop waiting for the start message now, not at the timeout.
    const take = start;
    start = undefined;
    take?.('');
  });
  try {
    const spec = ExecRequest.parse(await startMessage((fn) => (start = fn)));
    await services.sandboxes.requireRunning(name);
    await services.policy.authorize('exec', { argv: spec.cmd, via: 'cli', tty: spec.tty }, name);
    if (spec.workdir) await checkWorkdir(services, name, spec.workdir);
    session = await services.sandboxes.exec(name, {
      cmd: spec.cmd,
      tty: spec.tty,
      stdin: spec.stdin,
      env: spec.env,
      ...(spec.workdir ? { workdir: spec.workdir } : {}),
      ...(spec.cols ? { cols: spec.cols } : {}),
      ...(spec.rows ? { rows: spec.rows } : {}),
      ...(spec.timeoutSeconds ? { timeoutMs: Math.ceil(spec.timeoutSeconds * 1000) } : {}),
    });
    const frame = (stream: number) => (chunk: Buffer) =>
      socket.send(Buffer.concat([Buffer.from([stream]), chunk]));
    session.stdout.on('data', frame(EXEC_STREAM.stdout));
    session.stderr.on('data', frame(EXEC_STREAM.stderr));
    for (const [data, isBinary] of pending.splice(0)) deliver(data, isBinary);
    if (closed) session.stdin.end();
    const exitCode = await session.exit;
    const timedOut = (await session.result)?.timedOut === true;
    sendControl(timedOut ? { type: 'exit', exitCode, timedOut } : { type: 'exit', exitCode });
    socket.close(1000);
  } catch (err) {
    const error = isAiboxError(err)
      ? { code: err.code, message: err.message, hint: err.hint }
      : err instanceof z.ZodError || err instanceof SyntaxError
        ? {
            code: 'API_INVALID_REQUEST',
            message: `invalid exec request: ${messageOf(err)}`,
            hint: 'Send {"type":"start","spec":<ExecRequest>} as the first message.',
          }
        : { code: 'RUNTIME_EXEC', message: messageOf(err), hint: 'See the daemon log.' };
    if (!isAiboxError(err) && error.code === 'RUNTIME_EXEC')
      log.error({ err: messageOf(err) }, 'exec failed');
    if (!closed) {
      sendControl({ type: 'error', error });
      socket.close(1000);
    }
  }
}

/** Waits for the first text frame and returns its spec; fails if it is not a start message or never comes. */
function startMessage(listen: (fn: (text: string) => void) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new SyntaxError(`no start message within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
    timer.unref();
    listen((text) => {
      clearTimeout(timer);
      const parsed = ExecStartMessage.safeParse(safeJson(text));
      if (parsed.success) resolve(parsed.data.spec);
      else reject(new SyntaxError('the first message must be {"type":"start","spec":{…}}'));
    });
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
