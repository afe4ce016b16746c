import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { LearnReport } from '../../proposals/index.js';
import {
  LearnRequest,
  ProposalId,
  ProposalListQuery,
  proposalErrors,
  proposalReport,
  RejectProposalRequest,
  type ProposalList,
  type ProposalReport,
} from '../../proposals/index.js';
import { API_ROUTES as R } from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { open, sandboxParam, type AccessRule } from '../http/access.js';

const IdParams = z.object({ id: ProposalId });
const NameParams = z.object({ name: z.string().min(1).max(128) });

/**
 * `aibox policy proposals` (list, approve, reject) and `aibox egress learn`. The agent side of proposals is not
 * here: each sandbox reaches its own endpoint (src/proposals/endpoint.ts), never this socket.
 */
export function proposalRoutes(services: DaemonServices): FastifyPluginAsync {
  const proposals = () => {
    if (!services.proposals)
      throw proposalErrors.create('PROPOSALS_UNAVAILABLE', 'this daemon has no proposals layer');
    return services.proposals;
  };
  // A proposal belongs to the sandbox that made it (by id: not a later sandbox that took the same name).
  const owner: AccessRule = (request) => {
    const parsed = IdParams.safeParse(request.params);
    if (!parsed.success) return 'any'; // the handler answers 400
    const rec = proposals().get(parsed.data.id);
    return { name: rec.sandbox, id: rec.sandboxId };
  };
  const theirs = { config: { access: owner } };
  return async (app) => {
    app.get(R.proposals.collection, { config: { access: open } }, async (request): Promise<ProposalList> => {
      const query = ProposalListQuery.parse(request.query ?? {});
      const list = proposals().list(query);
      if (request.caller.uid === 0) return { proposals: list.map(proposalReport) };
      const visible = new Set((await app.visibleSandboxes(request.caller)).map((s) => s.id));
      return { proposals: list.filter((p) => visible.has(p.sandboxId)).map(proposalReport) };
    });

    app.get(R.proposals.one, theirs, async (request): Promise<ProposalReport> =>
      proposalReport(proposals().get(IdParams.parse(request.params).id)),
    );

    app.post(R.proposals.approve, theirs, async (request): Promise<ProposalReport> => {
      const { id } = IdParams.parse(request.params);
      return proposalReport(await proposals().approve(id, { uid: request.caller.uid }));
    });

    app.post(R.proposals.reject, theirs, async (request): Promise<ProposalReport> => {
      const { id } = IdParams.parse(request.params);
      const body = RejectProposalRequest.parse(request.body ?? {});
      return proposalReport(await proposals().reject(id, { uid: request.caller.uid, reason: body.reason }));
    });

    app.post(R.egress.learn, { config: { access: sandboxParam } }, async (request): Promise<LearnReport> => {
      const { name } = NameParams.parse(request.params);
      const body = LearnRequest.parse(request.body ?? {});
      await services.sandboxes.find(name);
      return proposals().startLearning(name, body.seconds);
    });

    app.get(R.egress.learn, { config: { access: sandboxParam } }, async (request): Promise<LearnReport> => {
      const { name } = NameParams.parse(request.params);
      await services.sandboxes.find(name);
      return proposals().learning(name);
    });
  };
}
