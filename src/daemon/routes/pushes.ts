import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  API_ROUTES as R,
  ApprovePushRequest,
  PushId,
  PushListQuery,
  RejectPushRequest,
  type PushList,
  type PushReport,
  type PushShowReport,
} from '../../shared/index.js';
import type { PushRecord } from '../../git-gate/index.js';
import type { DaemonServices } from '../services/index.js';
import { open, type AccessRule } from '../http/access.js';

const IdParams = z.object({ id: PushId });

/** A stored push as the wire contract shows it (the sandbox id stays inside the daemon). */
export function pushReport(p: PushRecord): PushReport {
  const { sandboxId: _id, history: _history, ...rest } = p;
  return rest;
}

/** `aibox push status|show|approve|reject`: review of gated pushes. */
export function pushRoutes(services: DaemonServices): FastifyPluginAsync {
  const git = () => services.git;
  // A push belongs to the sandbox that made it (by id: not a later sandbox with the same name).
  const pushOwner: AccessRule = async (request) => {
    const parsed = IdParams.safeParse(request.params);
    if (!parsed.success) return 'any'; // the handler answers 400
    const push = await git().pushes.get(parsed.data.id);
    return { name: push.sandbox, id: push.sandboxId };
  };
  const theirs = { config: { access: pushOwner } };
  return async (app) => {
    app.get(R.pushes.collection, { config: { access: open } }, async (request): Promise<PushList> => {
      const query = PushListQuery.parse(request.query ?? {});
      const pushes = await git().pushes.list(query);
      if (request.caller.uid === 0) return { pushes: pushes.map(pushReport) };
      const visible = new Set((await app.visibleSandboxes(request.caller)).map((s) => s.id));
      return { pushes: pushes.filter((p) => visible.has(p.sandboxId)).map(pushReport) };
    });

    app.get(R.pushes.one, theirs, async (request) =>
      pushReport(await git().pushes.get(IdParams.parse(request.params).id)),
    );

    // POST: presenting a push for review records which commit was reviewed (approval is bound to it).
    app.post(R.pushes.show, theirs, async (request): Promise<PushShowReport> => {
      const shown = await git().pushes.show(IdParams.parse(request.params).id);
      return { ...shown, push: pushReport(shown.push), ...(shown.target ? { target: shown.target } : {}) };
    });

    app.post(R.pushes.approve, theirs, async (request) => {
      const { id } = IdParams.parse(request.params);
      const body = ApprovePushRequest.parse(request.body ?? {});
      return pushReport(
        await git().pushes.approve(id, { ...(body.commit ? { commit: body.commit } : {}), by: 'api' }),
      );
    });

    app.post(R.pushes.reject, theirs, async (request) => {
      const { id } = IdParams.parse(request.params);
      const body = RejectPushRequest.parse(request.body ?? {});
      return pushReport(
        await git().pushes.reject(id, { ...(body.reason ? { reason: body.reason } : {}), by: 'api' }),
      );
    });
  };
}
