import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { PolicyDecideRequest, PolicyShowQuery } from '../../shared/index.js';
import { daemonErrors } from '../errors.js';
import type { DaemonServices } from '../services/index.js';
import { policyServiceOf, type PolicyService } from '../services/policy.js';

const DecisionParams = z.object({ id: z.string().regex(/^dec_[0-9a-f]{4,32}$/, 'a decision id (dec_…)') });

/** GET /v1/policy (effective policy), GET /v1/policy/decisions/:id (explain), POST /v1/policy/decide, /reload. */
export function policyRoutes(services: DaemonServices): FastifyPluginAsync {
  const policy = (): PolicyService => {
    const p = policyServiceOf(services);
    if (!p)
      throw daemonErrors.create('SANDBOX_LAYER_FAILED', 'the policy layer is not running in this aiboxd');
    return p;
  };
  return async (app) => {
    app.get('/v1/policy', async (request) => {
      const q = PolicyShowQuery.parse(request.query ?? {});
      return policy().show(q.sandbox);
    });

    app.get('/v1/policy/decisions/:id', async (request) => {
      const { id } = DecisionParams.parse(request.params);
      return policy().explain(id);
    });

    app.post('/v1/policy/decide', async (request) => {
      const body = PolicyDecideRequest.parse(request.body ?? {});
      return policy().decide(body.door, body.request, body.sandbox);
    });

    app.post('/v1/policy/reload', async () => {
      const r = await policy().reload();
      return { ok: r.ok, ...(r.error ? { error: r.error } : {}), report: policy().show() };
    });
  };
}
