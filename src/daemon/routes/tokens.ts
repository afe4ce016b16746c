import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { TOKEN_ROUTES as R, type TokenList, type TokenRevokedReport } from '../../shared/index.js';
import { rootOnly } from '../http/access.js';
import type { SessionApi } from '../../sessions/index.js';

const NameParams = z.object({ name: z.string().min(1).max(128) });

/** Token management: root on the unix socket (`aibox token …`), or an admin token on the network listener. */
export function tokenRoutes(api: SessionApi): FastifyPluginAsync {
  const { tokens } = api;
  return async (app) => {
    const admins = { config: { access: rootOnly, tokenScope: 'admin' as const } };
    app.post(R.collection, admins, async (request, reply) =>
      reply.status(201).send(await tokens.create(request.body as never)),
    );
    app.get(R.collection, admins, async (): Promise<TokenList> => ({ tokens: tokens.list() }));
    app.delete(R.one, admins, async (request): Promise<TokenRevokedReport> => {
      const info = await tokens.revoke(NameParams.parse(request.params).name);
      return { revoked: info.name, id: info.id };
    });
  };
}
