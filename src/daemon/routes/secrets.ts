import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  API_ROUTES as R,
  SecretNameParam,
  SetSecretRequest,
  type SecretList,
  type SecretRemovedReport,
  type SecretSetReport,
} from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { open, rootOnly } from '../http/access.js';

const NameParams = z.object({ name: SecretNameParam });

/**
 * /v1/secrets: names and dates out, values only in (PUT body over the local socket). No route returns a value.
 */
export function secretRoutes(services: DaemonServices): FastifyPluginAsync {
  const { credentials } = services;
  return async (app) => {
    app.get(R.secrets.collection, { config: { access: open } }, async (): Promise<SecretList> =>
      credentials.list(),
    );

    app.put(R.secrets.one, { config: { access: rootOnly } }, async (request): Promise<SecretSetReport> => {
      const { name } = NameParams.parse(request.params);
      const { value } = SetSecretRequest.parse(request.body ?? {});
      return credentials.set(name, value);
    });

    app.delete(
      R.secrets.one,
      { config: { access: rootOnly } },
      async (request): Promise<SecretRemovedReport> => {
        const { name } = NameParams.parse(request.params);
        return credentials.remove(name);
      },
    );
  };
}
