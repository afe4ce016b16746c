import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { SecretList, SecretRemovedReport, SecretSetReport } from '../../shared/api/secrets.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/secrets.js');

/** Secrets the daemon injects on the host side; values go in request bodies only, never in a URL or an answer. */
export class SecretsApi {
  constructor(private readonly api: ApiCore) {}

  async set(name: string, value: string): Promise<SecretSetReport> {
    const s = await schemas();
    return this.api.json('PUT', routePath(R.secrets.one, { name }), bySchema(s.SecretSetReport), { value });
  }

  async list(): Promise<SecretList> {
    const s = await schemas();
    return this.api.json('GET', R.secrets.collection, bySchema(s.SecretList));
  }

  async remove(name: string): Promise<SecretRemovedReport> {
    const s = await schemas();
    return this.api.json('DELETE', routePath(R.secrets.one, { name }), bySchema(s.SecretRemovedReport));
  }
}
