import type { TaskManager, TaskRecord } from '../../git-gate/index.js';
import type {
  Caller,
  CreateSandboxRequest,
  CreateTaskRequest,
  Logger,
  SandboxReport,
} from '../../shared/index.js';
import { isAiboxError, messageOf } from '../../shared/index.js';

/** The part of the sandbox service tasks use. */
export interface TaskSandboxes {
  create(request: CreateSandboxRequest, caller: Caller): Promise<SandboxReport>;
  remove(name: string): Promise<void>;
}

/**
 * `aibox task new|rm`: a task is a branch + worktree (the git gate's task store) and, optionally, a sandbox on it
 * started through the sandbox service like any other (same validation, layers and rollback).
 */
export class TaskService {
  constructor(
    readonly store: TaskManager,
    private readonly sandboxes: TaskSandboxes,
    private readonly logger: Logger,
  ) {}

  /** Branch + worktree, then a sandbox on it owned by `caller` (the worktree is removed if the sandbox fails). */
  async create(request: CreateTaskRequest, caller: Caller): Promise<TaskRecord> {
    const task = await this.store.create({
      repo: request.repo,
      description: request.description,
      ...(request.base ? { base: request.base } : {}),
    });
    if (!request.sandbox) return task;
    const name = `task-${task.name}`.slice(0, 63).replace(/-+$/, '');
    try {
      await this.sandboxes.create(
        { path: task.worktree, name, profile: request.profile ?? 'default' },
        caller,
      );
    } catch (err) {
      this.logger.warn(
        { task: task.name, err: messageOf(err) },
        'task sandbox failed; removing the worktree',
      );
      await this.store.remove(task.name, { deleteBranch: true, force: true }).catch(() => undefined);
      throw err;
    }
    return this.store.attachSandbox(task.name, name);
  }

  /** Removes the task's sandbox (if any is left), then its worktree (and branch when asked). */
  async remove(name: string, opts: { deleteBranch: boolean; force: boolean }): Promise<TaskRecord> {
    const task = await this.store.get(name);
    if (task.sandbox) {
      await this.sandboxes.remove(task.sandbox).catch((err: unknown) => {
        if (!(isAiboxError(err) && err.status === 404)) throw err;
      });
    }
    return this.store.remove(name, opts);
  }
}
