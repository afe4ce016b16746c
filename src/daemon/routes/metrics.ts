import type { FastifyPluginAsync } from 'fastify';
import { SESSION_ROUTES as R } from '../../shared/index.js';
import { rootOnly } from '../http/access.js';
import type { SessionApi } from '../../sessions/index.js';

/** Prometheus text format: root on the socket, an admin token on the network listener. */
export function metricsRoutes(api: SessionApi): FastifyPluginAsync {
  return async (app) => {
    app.get(R.metrics, { config: { access: rootOnly, tokenScope: 'admin' } }, async (_request, reply) =>
      reply.type(api.metrics.registry.contentType).send(await api.metrics.registry.metrics()),
    );
  };
}
