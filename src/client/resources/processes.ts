import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { KilledProcess, ProcessList } from '../../shared/api/processes.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/processes.js');

export type ProcessSignal = 'TERM' | 'KILL' | 'INT' | 'HUP';

/** A sandbox's running processes (through its exec agent): list them, signal one. */
export class ProcessesApi {
  constructor(private readonly api: ApiCore) {}

  async list(name: string): Promise<ProcessList> {
    const s = await schemas();
    return this.api.json('GET', routePath(R.sandboxes.processes, { name }), bySchema(s.ProcessList));
  }

  async kill(name: string, pid: number, signal: ProcessSignal = 'TERM'): Promise<KilledProcess> {
    const s = await schemas();
    const path = routePath(R.sandboxes.process, { name, pid: String(pid) }, { signal });
    return this.api.json('DELETE', path, bySchema(s.KilledProcess));
  }
}
