import type { FastifyPluginAsync } from 'fastify';
import type { EgressDecisionList } from '../../shared/index.js';
import { API_ROUTES as R, EgressDecisionQuery } from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { open } from '../http/access.js';

/**
 * GET /v1/egress/decisions: the per-request egress decisions the daemon keeps in memory (every DNS answer and proxy
 * request, allowed and refused; refusals are also in the audit log), newest first. Root sees every sandbox's,
 * others their own sandboxes' only.
 */
export function egressRequestRoutes(services: DaemonServices): FastifyPluginAsync {
  return async (app) => {
    app.get(
      R.egress.decisions,
      { config: { access: open } },
      async (request): Promise<EgressDecisionList> => {
        const query = EgressDecisionQuery.parse(request.query ?? {});
        const reports = await services.sandboxes.list();
        const names = new Map(reports.map((s) => [s.id, s.name]));
        const visible =
          request.caller.uid === 0
            ? undefined
            : new Set((await app.visibleSandboxes(request.caller)).map((s) => s.id));
        const matched = services.egress
          .recentDecisions()
          .filter(
            (d) =>
              (!visible || visible.has(d.sandboxId)) &&
              (!query.sandbox || names.get(d.sandboxId) === query.sandbox) &&
              (!query.verdict || d.verdict === query.verdict) &&
              (!query.layer || d.layer === query.layer),
          );
        const decisions = matched
          .slice(-query.limit)
          .reverse()
          .map((d) => {
            const sandbox = names.get(d.sandboxId);
            return { ...d, ...(sandbox ? { sandbox } : {}) };
          });
        return { decisions, matched: matched.length };
      },
    );
  };
}
