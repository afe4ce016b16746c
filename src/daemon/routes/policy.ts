import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { API_ROUTES as R, PolicyDecideRequest, PolicyShowQuery } from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { open, optionalSandbox, type AccessRule } from '../http/access.js';

const DecisionParams = z.object({ id: z.string().regex(/^dec_[0-9a-f]{4,32}$/, 'a decision id (dec_…)') });

/** GET /v1/policy (effective policy), GET /v1/policy/decisions/:id (explain), POST /v1/policy/decide, /reload. */
export function policyRoutes(services: DaemonServices): FastifyPluginAsync {
  const policy = () => services.policy;
  /** A named sandbox must exist: an unknown one is the caller's mistake (404), not a policy that is not loaded. */
  const known = async (sandbox: string | undefined) => {
    if (sandbox !== undefined) await services.sandboxes.find(sandbox);
  };
  // A decision made for a sandbox is that sandbox's owner's to read; one made for no sandbox is anyone's.
  const decisionOwner: AccessRule = async (request) => {
    const parsed = DecisionParams.safeParse(request.params);
    if (!parsed.success) return 'any'; // the handler answers 400
    const decision = await policy().explain(parsed.data.id);
    return decision.sandbox ? { name: decision.sandbox } : 'any';
  };
  return async (app) => {
    app.get(R.policy.show, { config: { access: optionalSandbox('query', 'any') } }, async (request) => {
      const q = PolicyShowQuery.parse(request.query ?? {});
      await known(q.sandbox);
      return policy().show(q.sandbox);
    });

    app.get(R.policy.decision, { config: { access: decisionOwner } }, async (request) => {
      const { id } = DecisionParams.parse(request.params);
      return policy().explain(id);
    });

    app.post(R.policy.decide, { config: { access: optionalSandbox('body', 'any') } }, async (request) => {
      const body = PolicyDecideRequest.parse(request.body ?? {});
      await known(body.sandbox);
      return policy().decide(body.door, body.request, body.sandbox);
    });

    app.post(R.policy.reload, { config: { access: open } }, async () => {
      const r = await policy().reload();
      return { ok: r.ok, ...(r.error ? { error: r.error } : {}), report: policy().show() };
    });
  };
}
