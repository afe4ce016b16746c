import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { egressErrors } from '../../egress/index.js';
import { API_ROUTES as R, EgressDecisionReport, EgressSelftestResult } from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { sandboxParam, type AccessRule } from '../http/access.js';

const NameParams = z.object({ name: z.string().min(1).max(128) });
const DecisionParams = z.object({ id: z.string().regex(/^dec_[0-9a-f]{4,32}$/, 'a decision id (dec_…)') });

/**
 * POST /v1/sandboxes/:name/egress/selftest (the probes behind `aibox doctor --sandbox NAME`) and
 * GET /v1/egress/decisions/:id (a DNS or proxy decision, by the id a 403 body or the log showed).
 */
export function egressRoutes(services: DaemonServices): FastifyPluginAsync {
  const egress = () => services.egress;
  // A decision belongs to the sandbox it was made for; one this daemon forgot is only root's to ask about.
  const decisionOwner: AccessRule = (request) => {
    const parsed = DecisionParams.safeParse(request.params);
    const d = parsed.success ? egress().decision(parsed.data.id) : undefined;
    return d ? { id: d.sandboxId } : 'root';
  };
  return async (app) => {
    app.post(R.sandboxes.egressSelftest, { config: { access: sandboxParam } }, async (request) => {
      const { name } = NameParams.parse(request.params);
      const record = await services.sandboxes.find(name);
      const report = await egress().selftest(name, record.id, async (cmd) => {
        const r = await services.sandboxes.execBuffered(name, { cmd });
        return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      });
      return EgressSelftestResult.parse(report);
    });

    app.get(R.egress.decision, { config: { access: decisionOwner } }, async (request) => {
      const { id } = DecisionParams.parse(request.params);
      const d = egress().decision(id);
      if (!d)
        throw egressErrors.create(
          'EGRESS_DECISION_NOT_FOUND',
          `no egress decision ${id} in this daemon's memory`,
        );
      return EgressDecisionReport.parse(d);
    });
  };
}
