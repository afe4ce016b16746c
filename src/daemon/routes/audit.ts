import type { FastifyPluginAsync } from 'fastify';
import {
  API_ROUTES as R,
  AuditExportQuery,
  AuditTailQuery,
  type AuditRecordList,
} from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { open, optionalSandbox, type AccessRule } from '../http/access.js';

/** An export names its sandbox (and maybe its id): only that sandbox's owner or root reads it. */
const exportOwner: AccessRule = (request) => {
  const q = AuditExportQuery.safeParse(request.query ?? {});
  if (!q.success) return 'any'; // the handler answers 400
  return q.data.sandboxId ? { name: q.data.sandbox, id: q.data.sandboxId } : { name: q.data.sandbox };
};

/** GET /v1/audit (tail), GET /v1/audit/verify, GET /v1/audit/export?sandbox=NAME. */
export function auditRoutes(services: DaemonServices): FastifyPluginAsync {
  const audit = () => services.audit;
  return async (app) => {
    // The whole log spans every user's sandboxes: without a sandbox, root only.
    app.get(
      R.audit.tail,
      { config: { access: optionalSandbox('query', 'root') } },
      async (request): Promise<AuditRecordList> => {
        const q = AuditTailQuery.parse(request.query ?? {});
        return { records: await audit().tail(q) };
      },
    );

    // Counts and hashes of the chain only, no record content.
    app.get(R.audit.verify, { config: { access: open } }, async () => audit().verify());

    app.get(R.audit.export, { config: { access: exportOwner } }, async (request) => {
      const q = AuditExportQuery.parse(request.query ?? {});
      return audit().export(q);
    });
  };
}
