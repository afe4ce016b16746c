import type { z } from 'zod';
import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { CreateTaskRequest, TaskList, TaskReport } from '../../shared/api/tasks.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/tasks.js');

/** Parallel tasks: a branch, a worktree and a sandbox each. */
export class TasksApi {
  constructor(private readonly api: ApiCore) {}

  async create(request: z.input<typeof CreateTaskRequest>): Promise<TaskReport> {
    const s = await schemas();
    return this.api.json('POST', R.tasks.collection, bySchema(s.TaskReport), request);
  }

  async list(): Promise<TaskList> {
    const s = await schemas();
    return this.api.json('GET', R.tasks.collection, bySchema(s.TaskList));
  }

  async done(name: string): Promise<TaskReport> {
    const s = await schemas();
    return this.api.json('POST', routePath(R.tasks.done, { name }), bySchema(s.TaskReport), {});
  }

  async remove(name: string, opts: { deleteBranch?: boolean; force?: boolean } = {}): Promise<TaskReport> {
    const s = await schemas();
    const query = { deleteBranch: opts.deleteBranch === true, force: opts.force === true };
    return this.api.json('DELETE', routePath(R.tasks.one, { name }, query), bySchema(s.TaskReport));
  }
}
