import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type {
  ApprovePushRequest,
  PushList,
  PushListQuery,
  PushReport,
  PushShowReport,
  RejectPushRequest,
} from '../../shared/api/pushes.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/pushes.js');

/** Gated pushes waiting for review (`aibox push …`). */
export class PushesApi {
  constructor(private readonly api: ApiCore) {}

  async list(query: PushListQuery = {}): Promise<PushList> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.pushes.collection, {}, query), bySchema(s.PushList));
  }

  /** The commits and diff a push adds; showing records the review that approval is bound to. */
  async show(id: string): Promise<PushShowReport> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.pushes.show, { id }), bySchema(s.PushShowReport), {});
  }

  async approve(id: string, request: ApprovePushRequest = {}): Promise<PushReport> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.pushes.approve, { id }), bySchema(s.PushReport), request);
  }

  async reject(id: string, request: RejectPushRequest = {}): Promise<PushReport> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.pushes.reject, { id }), bySchema(s.PushReport), request);
  }
}
