import type { z } from 'zod';
import { readRemoved, readSandboxList, readSandboxReport } from '../../shared/api/light.js';
import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { CreateSandboxRequest, RemovedReport, SandboxReport } from '../../shared/api/sandboxes.js';
import type { EgressSelftestResult } from '../../shared/api/egress.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

export type CreateSandboxInput = z.input<typeof CreateSandboxRequest>;

/** Sandboxes: their lifecycle, logs and egress self-test (reports read without zod: `aibox list` is a hot path). */
export class SandboxesApi {
  constructor(private readonly api: ApiCore) {}

  create(request: CreateSandboxInput): Promise<SandboxReport> {
    return this.api.json('POST', R.sandboxes.collection, readSandboxReport, request);
  }

  async list(): Promise<SandboxReport[]> {
    return (await this.api.json('GET', R.sandboxes.collection, readSandboxList)).sandboxes;
  }

  get(name: string): Promise<SandboxReport> {
    return this.api.json('GET', routePath(R.sandboxes.one, { name }), readSandboxReport);
  }

  start(name: string): Promise<SandboxReport> {
    return this.api.json('POST', routePath(R.sandboxes.start, { name }), readSandboxReport);
  }

  stop(name: string): Promise<SandboxReport> {
    return this.api.json('POST', routePath(R.sandboxes.stop, { name }), readSandboxReport);
  }

  remove(name: string): Promise<RemovedReport> {
    return this.api.json('DELETE', routePath(R.sandboxes.one, { name }), readRemoved);
  }

  logs(name: string): Promise<string> {
    return this.api.text('GET', routePath(R.sandboxes.logs, { name }));
  }

  /** The egress enforcement probes, run from inside the sandbox. */
  async egressSelftest(name: string): Promise<EgressSelftestResult> {
    const s = await import('../../shared/api/egress.js');
    return this.api.json(
      'POST',
      routePath(R.sandboxes.egressSelftest, { name }),
      bySchema(s.EgressSelftestResult),
      {},
    );
  }
}
