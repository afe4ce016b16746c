import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  API_ROUTES as R,
  CreateTaskRequest,
  RemoveTaskQuery,
  TaskName,
  type Caller,
  type TaskList,
} from '../../shared/index.js';
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
  const tasks = () => services.tasks;
  // A task is its sandbox's owner's; a task without a sandbox has no recorded owner: root only.
  const taskOwner: AccessRule = async (request) => {
    const parsed = NameParams.safeParse(request.params);
    if (!parsed.success) return 'any'; // the handler answers 400
    const task = await tasks().store.get(parsed.data.name);
    return task.sandbox ? { name: task.sandbox } : 'root';
  };
  const theirs = { config: { access: taskOwner } };
  return async (app) => {
    app.post(R.tasks.collection, { config: { access: open } }, async (request, reply) => {
      const body = CreateTaskRequest.parse(request.body ?? {});
      // The daemon makes the branch and worktree as root: only in a repository the caller may itself write.
      await requireOwnAccess(body.repo, request.caller);
      // The task's sandbox is created as, and owned by, whoever asked for the task.
      return reply.status(201).send(await tasks().create(body, request.caller));
    });

    app.get(R.tasks.collection, { config: { access: open } }, async (request): Promise<TaskList> => {
      const all = await tasks().store.list();
      if (request.caller.uid === 0) return { tasks: all };
      const visible = new Set((await app.visibleSandboxes(request.caller)).map((s) => s.name));
      return { tasks: all.filter((t) => t.sandbox !== undefined && visible.has(t.sandbox)) };
    });

    app.get(R.tasks.one, theirs, async (request) => tasks().store.get(NameParams.parse(request.params).name));

    app.post(R.tasks.done, theirs, async (request) =>
      tasks().store.complete(NameParams.parse(request.params).name),
    );

    app.delete(R.tasks.one, theirs, async (request) => {
      const { name } = NameParams.parse(request.params);
      const query = RemoveTaskQuery.parse(request.query ?? {});
      return tasks().remove(name, query);
    });
  };
}
