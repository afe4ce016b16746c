import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import {
  CreateSandboxRequest,
  EXEC_STREAM,
  ExecControlMessage,
  ExecRequest,
  isAiboxError,
  messageOf,
  type ExecResult,
} from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { policyServiceOf } from '../services/policy.js';
import type { ExecSession } from '../../runtime/index.js';

const NameParams = z.object({ name: z.string().min(1).max(128) });

export function sandboxRoutes(services: DaemonServices): FastifyPluginAsync {
  const sandboxes = services.sandboxes;
  return async (app) => {
    app.post('/v1/sandboxes', async (request, reply) => {
      const body = CreateSandboxRequest.parse(request.body ?? {});
      const report = await sandboxes.create(body);
      return reply.status(201).send(report);
    });

    app.get('/v1/sandboxes', async () => ({ sandboxes: await sandboxes.list() }));

    app.get('/v1/sandboxes/:name', async (request) => sandboxes.get(NameParams.parse(request.params).name));

    app.post('/v1/sandboxes/:name/stop', async (request) =>
      sandboxes.stop(NameParams.parse(request.params).name),
    );

    app.post('/v1/sandboxes/:name/start', async (request) =>
      sandboxes.start(NameParams.parse(request.params).name),
    );

    app.delete('/v1/sandboxes/:name', async (request) => {
      const { name } = NameParams.parse(request.params);
      await sandboxes.remove(name);
      return { removed: name };
    });

    app.get('/v1/sandboxes/:name/logs', async (request, reply) => {
      const logs = await sandboxes.logs(NameParams.parse(request.params).name);
      return reply.type('text/plain; charset=utf-8').send(logs);
    });

    app.post('/v1/sandboxes/:name/exec', async (request): Promise<ExecResult> => {
      const { name } = NameParams.parse(request.params);
      const spec = ExecRequest.parse(request.body ?? {});
      await sandboxes.requireRunning(name); // an unknown or stopped sandbox says so before policy is asked
      await policyServiceOf(services)?.authorize('exec', { argv: spec.cmd, via: 'api' }, name);
      return sandboxes.execBuffered(name, {
        cmd: spec.cmd,
        env: spec.env,
        ...(spec.workdir ? { workdir: spec.workdir } : {}),
      });
    });

    app.get('/v1/sandboxes/:name/exec/ws', { websocket: true }, (socket, request) => {
      void streamExec(services, socket, request.params, request.query);
    });
  };
}

/** Streaming exec: binary frames = stream byte + data, text frames = control messages (see shared/api/system.ts). */
async function streamExec(services: DaemonServices, socket: WebSocket, params: unknown, query: unknown) {
  const sendControl = (m: ExecControlMessage) => socket.send(JSON.stringify(m));
  // The client may send stdin before the exec exists: queue frames until the session is there.
  let session: ExecSession | undefined;
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
    if (session) deliver(data, isBinary);
    else pending.push([data, isBinary]);
  });
  socket.on('close', () => {
    closed = true;
    session?.stdin.end();
  });
  try {
    const { name } = NameParams.parse(params);
    const { spec: raw } = z.object({ spec: z.string() }).parse(query);
    const spec = ExecRequest.parse(JSON.parse(raw));
    await services.sandboxes.requireRunning(name);
    await policyServiceOf(services)?.authorize('exec', { argv: spec.cmd, via: 'cli', tty: spec.tty }, name);
    session = await services.sandboxes.exec(name, {
      cmd: spec.cmd,
      tty: spec.tty,
      stdin: spec.stdin,
      env: spec.env,
      ...(spec.workdir ? { workdir: spec.workdir } : {}),
      ...(spec.cols ? { cols: spec.cols } : {}),
      ...(spec.rows ? { rows: spec.rows } : {}),
    });
    const frame = (stream: number) => (chunk: Buffer) =>
      socket.send(Buffer.concat([Buffer.from([stream]), chunk]));
    session.stdout.on('data', frame(EXEC_STREAM.stdout));
    session.stderr.on('data', frame(EXEC_STREAM.stderr));
    for (const [data, isBinary] of pending.splice(0)) deliver(data, isBinary);
    if (closed) session.stdin.end();
    const exitCode = await session.exit;
    sendControl({ type: 'exit', exitCode });
    socket.close(1000);
  } catch (err) {
    const error = isAiboxError(err)
      ? { code: err.code, message: err.message, hint: err.hint }
      : err instanceof z.ZodError || err instanceof SyntaxError
        ? {
            code: 'API_INVALID_REQUEST',
            message: `invalid exec request: ${messageOf(err)}`,
            hint: 'Pass spec=<JSON ExecRequest>.',
          }
        : { code: 'RUNTIME_EXEC', message: messageOf(err), hint: 'See the daemon log.' };
    sendControl({ type: 'error', error });
    socket.close(1000);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
