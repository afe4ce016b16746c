import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { AuditExportBundle, AuditRecordJson, AuditVerifyReport } from '../../shared/api/audit.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/audit.js');

/** The append-only, hash-chained audit log. */
export class AuditApi {
  constructor(private readonly api: ApiCore) {}

  /** The latest records, oldest first. */
  async tail(query: { sandbox?: string; kind?: string; limit?: number } = {}): Promise<AuditRecordJson[]> {
    const s = await schemas();
    return (await this.api.json('GET', routePath(R.audit.tail, {}, query), bySchema(s.AuditRecordList)))
      .records;
  }

  async verify(): Promise<AuditVerifyReport> {
    const s = await schemas();
    return this.api.json('GET', R.audit.verify, bySchema(s.AuditVerifyReport));
  }

  /** One sandbox's session as a bundle: decisions, commands, pushes, LLM calls, and the chain's check. */
  async export(sandbox: string): Promise<AuditExportBundle> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.audit.export, {}, { sandbox }), bySchema(s.AuditExportBundle));
  }
}
