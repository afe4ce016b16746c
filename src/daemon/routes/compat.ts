import type { FastifyPluginAsync } from 'fastify';
import {
  CompatCleanupRequest,
  CompatCreateSessionRequest,
  CompatExecuteRequest,
  SESSION_ROUTES as R,
} from '../../shared/index.js';
import { open } from '../http/access.js';
import type { SessionApi } from '../../sessions/index.js';
import { actorOf, limited } from './sessions.js';

/**
 * The session-sandbox API programs already use, so an existing client works by changing its base URL:
 * `POST /create_session` → `{session_id}`, `POST /execute {session_id, command}` → `{exit_code, output}` (the command
 * runs with /bin/sh -c in /workspace; output is stdout then stderr), `POST /cleanup {session_id}`.
 */
export function compatRoutes(api: SessionApi): FastifyPluginAsync {
  const { sessions } = api;
  return async (app) => {
    const anyone = { config: { access: open, tokenScope: 'sessions' as const } };
    await limited(app, api, (scope) => {
      scope.post(R.compatCreate, anyone, async (request) => {
        const body = CompatCreateSessionRequest.parse(request.body ?? {});
        const report = await sessions.create(
          {
            ...(body.profile ? { profile: body.profile } : {}),
            ...(body.ttl ? { ttlSeconds: body.ttl } : {}),
          },
          actorOf(request),
        );
        return { session_id: report.id };
      });
      scope.post(R.compatExecute, anyone, async (request) => {
        const body = CompatExecuteRequest.parse(request.body ?? {});
        const r = await sessions.exec(
          body.session_id,
          { cmd: ['/bin/sh', '-c', body.command], timeoutSeconds: body.timeout ?? 60 },
          actorOf(request),
        );
        return { exit_code: r.exitCode, output: r.stdout + r.stderr };
      });
      scope.post(R.compatCleanup, anyone, async (request) => {
        const body = CompatCleanupRequest.parse(request.body ?? {});
        await sessions.remove(body.session_id, actorOf(request));
        return { session_id: body.session_id, status: 'cleaned' as const };
      });
    });
  };
}
