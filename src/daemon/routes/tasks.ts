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
import { HostPathError, probeHostPath, projectPathError } from '../../runtime/host-path.js';
import { daemonErrors } from '../errors.js';

const NameParams = z.object({ name: TaskName });

/** A caller other than root must be able to reach, read and write `folder` itself (checked with its own ids). */
async function requireOwnAccess(folder: string, caller: Caller): Promise<void> {
  if (caller.uid === 0) return;
  await probeHostPath(folder, { uid: caller.uid, gid: caller.gid }).catch((err: unknown) => {
    if (err instanceof HostPathError && err.refusal === 'missing')
      throw daemonErrors.create('SANDBOX_PATH_NOT_FOUND', `no such directory: ${folder}`, { path: folder });
    throw projectPathError(err, folder);
  });
}

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
      // The daemon makes the branch and worktree as root: only in a repository the caller may itself write.
      await requireOwnAccess(body.repo, request.caller);
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
