import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import rateLimit from '@fastify/rate-limit';
import { z } from 'zod';
import {
  FileQuery,
  SESSION_ROUTES as R,
  type FileList,
  type FileRemovedReport,
  type FileWrittenReport,
  type SessionExecResult,
  type SessionRemovedReport,
  type TarExtractedReport,
} from '../../shared/index.js';
import { DAEMON_CALLER, isAiboxError } from '../../shared/index.js';
import {
  displayPath,
  extractTar,
  packTar,
  sessionErrors,
  workspaceSegments,
  type SessionActor,
  type SessionApi,
} from '../../sessions/index.js';
import type { DaemonServices } from '../services/index.js';
import { open } from '../http/access.js';
import { isNetworkRequest } from '../http/token-auth.js';
import { daemonErrors } from '../errors.js';
import { streamExec } from './exec-stream.js';

const IdParams = z.object({ id: z.string().min(1).max(64) });

/** Who a request acts as: its token on the network listener, its uid on the unix socket. */
export function actorOf(request: FastifyRequest): SessionActor {
  const p = request.principal;
  if (isNetworkRequest(request.raw)) {
    if (!p) throw daemonErrors.create('API_CALLER_UNKNOWN', 'no token on a network request');
    return { owner: p.id, admin: p.scope === 'admin', caller: DAEMON_CALLER, team: p.team };
  }
  return { owner: `uid:${request.caller.uid}`, admin: request.caller.uid === 0, caller: request.caller };
}

/**
 * Rate limits per token (and per socket uid) over every route of `register`, with SESSION_RATE_LIMITED in the
 * error contract and Retry-After; quota refusals (SESSION_QUOTA) get their Retry-After here too.
 */
export async function limited(
  app: FastifyInstance,
  api: SessionApi,
  register: (scope: FastifyInstance) => Promise<void> | void,
): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(rateLimit, {
      max: api.config.rateLimit.max,
      timeWindow: api.config.rateLimit.windowSeconds * 1000,
      keyGenerator: (request) => actorOf(request).owner,
      // the unix socket's users are local and already bounded by their own uid's sandboxes
      allowList: (request) => !isNetworkRequest(request.raw),
      errorResponseBuilder: (_request, context) => {
        api.metrics.refused.inc({ reason: 'rate' });
        return sessionErrors.create(
          'SESSION_RATE_LIMITED',
          `more than ${context.max} requests in ${context.after}`,
          {
            retryAfterSeconds: Math.ceil(context.ttl / 1000),
          },
        );
      },
    });
    scope.addHook('onError', async (_request, reply, err) => {
      const retry = isAiboxError(err) ? err.details?.retryAfterSeconds : undefined;
      if (typeof retry === 'number') void reply.header('retry-after', String(retry));
    });
    await register(scope);
  });
}

export function sessionRoutes(services: DaemonServices, api: SessionApi): FastifyPluginAsync {
  const { sessions } = api;
  return async (app) => {
    const anyone = { config: { access: open, tokenScope: 'sessions' as const } };
    await limited(app, api, async (scope) => {
      // Raw bodies for files and tars: handed over as streams, capped by the workspace layer, never buffered whole.
      scope.addContentTypeParser(
        ['application/octet-stream', 'application/x-tar'],
        (_request, payload, done) => done(null, payload),
      );

      scope.post(R.collection, anyone, async (request, reply) => {
        const report = await sessions.create(request.body ?? {}, actorOf(request));
        return reply.status(201).send(report);
      });
      scope.get(R.collection, anyone, async (request) => ({ sessions: sessions.list(actorOf(request)) }));
      scope.get(R.one, anyone, async (request) =>
        sessions.get(IdParams.parse(request.params).id, actorOf(request)),
      );
      scope.delete(R.one, anyone, async (request): Promise<SessionRemovedReport> => {
        const { id } = IdParams.parse(request.params);
        await sessions.remove(id, actorOf(request));
        return { removed: id };
      });
      scope.post(R.exec, anyone, async (request): Promise<SessionExecResult> =>
        sessions.exec(IdParams.parse(request.params).id, request.body ?? {}, actorOf(request)),
      );
      scope.route({
        method: 'GET',
        url: R.execWs,
        config: anyone.config,
        preHandler: async (request) => {
          sessions.sandboxOf(IdParams.parse(request.params).id, actorOf(request));
        },
        handler: async () => {
          throw daemonErrors.create(
            'API_UPGRADE_REQUIRED',
            'exec/ws is a WebSocket: send an upgrade request',
          );
        },
        wsHandler: (socket, request) => {
          const { id } = IdParams.parse(request.params);
          const name = sessions.sandboxOf(id, actorOf(request));
          const stop = sessions.keepAlive(id);
          socket.on('message', () => sessions.touch(id));
          socket.once('close', stop);
          void streamExec(services, socket, name, request.log);
        },
      });

      const fileQuery = (request: FastifyRequest) => {
        const q = FileQuery.parse(request.query ?? {});
        return { ...q, segments: workspaceSegments(q.path) };
      };
      scope.put(R.files, anyone, async (request): Promise<FileWrittenReport> => {
        const { segments, mode } = fileQuery(request);
        const fs = sessions.files(IdParams.parse(request.params).id, actorOf(request));
        const body = request.body as NodeJS.ReadableStream | Buffer | undefined;
        const bytes = await fs.writeFile(
          segments,
          (body ?? Buffer.alloc(0)) as AsyncIterable<Buffer> | Buffer,
          {
            mode: mode ? parseInt(mode, 8) : undefined,
          },
        );
        return { path: displayPath(segments), bytes };
      });
      scope.get(R.files, anyone, async (request, reply) => {
        const { segments } = fileQuery(request);
        const fs = sessions.files(IdParams.parse(request.params).id, actorOf(request));
        const { size, stream } = await fs.readFile(segments);
        return reply.type('application/octet-stream').header('content-length', String(size)).send(stream);
      });
      scope.delete(R.files, anyone, async (request): Promise<FileRemovedReport> => {
        const { segments, recursive } = fileQuery(request);
        const fs = sessions.files(IdParams.parse(request.params).id, actorOf(request));
        await fs.remove(segments, recursive === 'true');
        return { removed: displayPath(segments) };
      });
      scope.get(R.filesList, anyone, async (request): Promise<FileList> => {
        const { segments } = fileQuery(request);
        const fs = sessions.files(IdParams.parse(request.params).id, actorOf(request));
        return { path: displayPath(segments), entries: await fs.list(segments) };
      });
      scope.put(R.filesTar, anyone, async (request): Promise<TarExtractedReport> => {
        const { segments } = fileQuery(request);
        const fs = sessions.files(IdParams.parse(request.params).id, actorOf(request));
        const body = (request.body ?? Buffer.alloc(0)) as AsyncIterable<Buffer> | Buffer;
        const source: AsyncIterable<Buffer> = Buffer.isBuffer(body) ? Readable.from([body]) : body;
        const report = await extractTar(
          source,
          fs,
          segments,
          { maxEntries: api.config.maxTarEntries },
          {
            remaining: Number.MAX_SAFE_INTEGER, // the workspace tmpfs is the cap
          },
        );
        return { path: displayPath(segments), ...report };
      });
      scope.get(R.filesTar, anyone, async (request, reply) => {
        const { segments } = fileQuery(request);
        const fs = sessions.files(IdParams.parse(request.params).id, actorOf(request));
        return reply.type('application/x-tar').send(await packTar(fs, segments));
      });
    });
  };
}
