import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { PolicyDecision, PolicyShowReport } from '../../shared/api/policy.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/policy.js');

/** The policy in force and the decisions it made. */
export class PolicyApi {
  constructor(private readonly api: ApiCore) {}

  /** The effective policy per door (for one sandbox: with its project file), and any pending load error. */
  async show(sandbox?: string): Promise<PolicyShowReport> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.policy.show, {}, { sandbox }), bySchema(s.PolicyShowReport));
  }

  /** One recorded decision (dec_…), with each layer's verdict: what `aibox policy explain` prints. */
  async decision(id: string): Promise<PolicyDecision> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.policy.decision, { id }), bySchema(s.PolicyDecision));
  }
}
