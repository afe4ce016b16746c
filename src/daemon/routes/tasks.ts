import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  CreateTaskRequest,
  DAEMON_CALLER,
  RemoveTaskQuery,
  TaskName,
  type CreateSandboxRequest,
  type TaskList,
} from '../../shared/index.js';
import { gitGateOf } from '../services/git-gate.js';
import type { DaemonServices } from '../services/index.js';

const NameParams = z.object({ name: TaskName });

/** `aibox task new|list|rm|done`: per-task worktrees with their own sandboxes. */
export function taskRoutes(services: DaemonServices): FastifyPluginAsync {
  const git = () => gitGateOf(services.hooks);
  // Placeholder until task routes pass their caller: task sandboxes are created as root.
  const sandboxes = {
    create: (r: CreateSandboxRequest) => services.sandboxes.create(r, DAEMON_CALLER),
    remove: (name: string) => services.sandboxes.remove(name),
  };
  return async (app) => {
    app.post('/v1/tasks', async (request, reply) => {
      const body = CreateTaskRequest.parse(request.body ?? {});
      return reply.status(201).send(await git().createTask(body, sandboxes));
    });

    app.get('/v1/tasks', async (): Promise<TaskList> => ({ tasks: await git().tasks.list() }));

    app.get('/v1/tasks/:name', async (request) => git().tasks.get(NameParams.parse(request.params).name));

    app.post('/v1/tasks/:name/done', async (request) =>
      git().tasks.complete(NameParams.parse(request.params).name),
    );

    app.delete('/v1/tasks/:name', async (request) => {
      const { name } = NameParams.parse(request.params);
      const query = RemoveTaskQuery.parse(request.query ?? {});
      return git().removeTask(name, query, sandboxes);
    });
  };
}
