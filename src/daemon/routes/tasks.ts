import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  CreateTaskRequest,
  RemoveTaskQuery,
  TaskName,
  type Caller,
  type TaskList,
} from '../../shared/index.js';
import { gitGateOf, type TaskSandboxes } from '../services/git-gate.js';
import type { DaemonServices } from '../services/index.js';
import { open, type AccessRule } from '../http/access.js';

const NameParams = z.object({ name: TaskName });

/** `aibox task new|list|rm|done`: per-task worktrees with their own sandboxes. */
export function taskRoutes(services: DaemonServices): FastifyPluginAsync {
  const git = () => gitGateOf(services.hooks);
  const sandboxes = services.sandboxes;
  /** The task's sandbox is created as, and owned by, whoever asked for the task. */
  const as = (caller: Caller): TaskSandboxes => ({
    create: (request) => sandboxes.create(request, caller),
    remove: (name) => sandboxes.remove(name),
  });
  // A task is its sandbox's owner's; a task without a sandbox has no recorded owner: root only.
  const taskOwner: AccessRule = async (request) => {
    const parsed = NameParams.safeParse(request.params);
    if (!parsed.success) return 'any'; // the handler answers 400
    const task = await git().tasks.get(parsed.data.name);
    return task.sandbox ? { name: task.sandbox } : 'root';
  };
  const theirs = { config: { access: taskOwner } };
  return async (app) => {
    app.post('/v1/tasks', { config: { access: open } }, async (request, reply) => {
      const body = CreateTaskRequest.parse(request.body ?? {});
      return reply.status(201).send(await git().createTask(body, as(request.caller)));
    });

    app.get('/v1/tasks', { config: { access: open } }, async (request): Promise<TaskList> => {
      const tasks = await git().tasks.list();
      if (request.caller.uid === 0) return { tasks };
      const visible = new Set((await app.visibleSandboxes(request.caller)).map((s) => s.name));
      return { tasks: tasks.filter((t) => t.sandbox !== undefined && visible.has(t.sandbox)) };
    });

    app.get('/v1/tasks/:name', theirs, async (request) =>
      git().tasks.get(NameParams.parse(request.params).name),
    );

    app.post('/v1/tasks/:name/done', theirs, async (request) =>
      git().tasks.complete(NameParams.parse(request.params).name),
    );

    app.delete('/v1/tasks/:name', theirs, async (request) => {
      const { name } = NameParams.parse(request.params);
      const query = RemoveTaskQuery.parse(request.query ?? {});
      return git().removeTask(name, query, as(request.caller));
    });
  };
}
