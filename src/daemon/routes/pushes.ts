import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  ApprovePushRequest,
  PushId,
  PushListQuery,
  RejectPushRequest,
  type PushList,
  type PushReport,
  type PushShowReport,
} from '../../shared/index.js';
import type { PushRecord } from '../../git-gate/index.js';
import { gitGateOf } from '../services/git-gate.js';
import type { DaemonServices } from '../services/index.js';

const IdParams = z.object({ id: PushId });

/** A stored push as the wire contract shows it (the sandbox id stays inside the daemon). */
export function pushReport(p: PushRecord): PushReport {
  const { sandboxId: _id, history: _history, ...rest } = p;
  return rest;
}

/** `aibox push status|show|approve|reject`: review of gated pushes. */
export function pushRoutes(services: DaemonServices): FastifyPluginAsync {
  const git = () => gitGateOf(services.hooks);
  return async (app) => {
    app.get('/v1/pushes', async (request): Promise<PushList> => {
      const query = PushListQuery.parse(request.query ?? {});
      return { pushes: (await git().pushes.list(query)).map(pushReport) };
    });

    app.get('/v1/pushes/:id', async (request) =>
      pushReport(await git().pushes.get(IdParams.parse(request.params).id)),
    );

    // POST: presenting a push for review records which commit was reviewed (approval is bound to it).
    app.post('/v1/pushes/:id/show', async (request): Promise<PushShowReport> => {
      const shown = await git().pushes.show(IdParams.parse(request.params).id);
      return { ...shown, push: pushReport(shown.push), ...(shown.target ? { target: shown.target } : {}) };
    });

    app.post('/v1/pushes/:id/approve', async (request) => {
      const { id } = IdParams.parse(request.params);
      const body = ApprovePushRequest.parse(request.body ?? {});
      return pushReport(
        await git().pushes.approve(id, { ...(body.commit ? { commit: body.commit } : {}), by: 'api' }),
      );
    });

    app.post('/v1/pushes/:id/reject', async (request) => {
      const { id } = IdParams.parse(request.params);
      const body = RejectPushRequest.parse(request.body ?? {});
      return pushReport(
        await git().pushes.reject(id, { ...(body.reason ? { reason: body.reason } : {}), by: 'api' }),
      );
    });
  };
}
