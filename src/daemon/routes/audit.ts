import type { FastifyPluginAsync } from 'fastify';
import type { AuditLog } from '../../audit/index.js';
import { AuditExportQuery, AuditTailQuery } from '../../shared/index.js';
import { daemonErrors } from '../errors.js';
import type { DaemonServices } from '../services/index.js';
import { policyServiceOf } from '../services/policy.js';

/** GET /v1/audit (tail), GET /v1/audit/verify, GET /v1/audit/export?sandbox=NAME. */
export function auditRoutes(services: DaemonServices): FastifyPluginAsync {
  const audit = (): AuditLog => {
    const a =
      (services as DaemonServices & { audit?: AuditLog }).audit ?? policyServiceOf(services)?.auditLog;
    if (!a) throw daemonErrors.create('SANDBOX_LAYER_FAILED', 'the audit log is not open in this aiboxd');
    return a;
  };
  return async (app) => {
    app.get('/v1/audit', async (request) => {
      const q = AuditTailQuery.parse(request.query ?? {});
      return { records: await audit().tail(q) };
    });

    app.get('/v1/audit/verify', async () => audit().verify());

    app.get('/v1/audit/export', async (request) => {
      const q = AuditExportQuery.parse(request.query ?? {});
      return audit().export(q);
    });
  };
}
