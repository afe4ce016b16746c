import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type {
  LearnReport,
  ProposalList,
  ProposalListQuery,
  ProposalReport,
} from '../../shared/api/proposals.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/proposals.js');

/** Policy changes agents proposed (`aibox policy proposals`) and learn runs (`aibox egress learn`). */
export class ProposalsApi {
  constructor(private readonly api: ApiCore) {}

  async list(query: ProposalListQuery = {}): Promise<ProposalList> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.proposals.collection, {}, query), bySchema(s.ProposalList));
  }

  async get(id: string): Promise<ProposalReport> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.proposals.one, { id }), bySchema(s.ProposalReport));
  }

  /** Writes the change into the project's aibox/policy.yaml (host side). */
  async approve(id: string): Promise<ProposalReport> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.proposals.approve, { id }), bySchema(s.ProposalReport), {});
  }

  /** The reason is what the agent reads back from its endpoint. */
  async reject(id: string, reason: string): Promise<ProposalReport> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.proposals.reject, { id }), bySchema(s.ProposalReport), {
      reason,
    });
  }

  async learn(name: string, seconds: number): Promise<LearnReport> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.egress.learn, { name }), bySchema(s.LearnReport), { seconds });
  }

  async learning(name: string): Promise<LearnReport> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.egress.learn, { name }), bySchema(s.LearnReport));
  }
}
