import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { SessionList, SessionRemovedReport } from '../../shared/api/sessions.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/sessions.js');

/** Sessions as operators see them over the socket (root: every session; others: their own): list, remove. */
export class SessionsApi {
  constructor(private readonly api: ApiCore) {}

  async list(): Promise<SessionList> {
    const s = await schemas();
    return this.api.json('GET', R.sessions.collection, bySchema(s.SessionList));
  }

  async remove(id: string): Promise<SessionRemovedReport> {
    const s = await schemas();
    return this.api.json('DELETE', routePath(R.sessions.one, { id }), bySchema(s.SessionRemovedReport));
  }
}
