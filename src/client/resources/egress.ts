import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { EgressDecisionReport } from '../../shared/api/egress.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

/** Egress decisions (the ids a 403 body or a refused DNS query showed). */
export class EgressApi {
  constructor(private readonly api: ApiCore) {}

  async decision(id: string): Promise<EgressDecisionReport> {
    const s = await import('../../shared/api/egress.js');
    return this.api.json('GET', routePath(R.egress.decision, { id }), bySchema(s.EgressDecisionReport));
  }
}
