import path from 'node:path';
import type { Clock, Logger } from '../shared/index.js';
import type { GitAuditSink } from './audit.js';
import type { GitGateConfig } from './config.js';
import type { CredentialSource } from './credentials.js';
import { GitRunner } from './exec.js';
import { GitGateway } from './gateway.js';
import { MirrorStore } from './mirror.js';
import { Notifier, type CommandRunner } from './notify.js';
import { runNotifyCommand } from './notify-exec.js';
import { PushStore } from './push-store.js';
import { PushGate } from './pushes.js';
import { ListenerPorts } from './listener-ports.js';
import { TaskManager } from './worktrees/tasks.js';

export interface GitGateDeps {
  readonly config: GitGateConfig;
  /** The daemon's state directory; the gate keeps `git-gate/` in it (mirrors, hooks, pushes.json). */
  readonly stateDir: string;
  readonly credentials: CredentialSource;
  readonly audit: GitAuditSink;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly runCommand?: CommandRunner;
  readonly gitBinary?: string;
}

export interface GitGate {
  readonly gateway: GitGateway;
  readonly pushes: PushGate;
  readonly mirrors: MirrorStore;
  readonly notifier: Notifier;
  readonly tasks: TaskManager;
  readonly ports: ListenerPorts;
  readonly git: GitRunner;
  readonly dir: string;
}

/** Wires the gateway, mirrors, push review, tasks and notifier from one config (what the daemon adapter calls). */
export function createGitGate(deps: GitGateDeps): GitGate {
  const dir = path.join(deps.stateDir, 'git-gate');
  const logger = deps.logger.child({ layer: 'git-gate' });
  const git = new GitRunner(deps.gitBinary);
  const mirrors = new MirrorStore({
    root: path.join(dir, 'mirrors'),
    hooksDir: path.join(dir, 'hooks'),
    repos: deps.config.repos,
    credentials: deps.credentials,
    git,
    logger,
    maxPushBytes: deps.config.maxPushMiB * 1024 * 1024,
  });
  const notifier = new Notifier(deps.config.notifications, {
    logger,
    clock: deps.clock,
    runCommand: deps.runCommand ?? runNotifyCommand,
  });
  const pushes = new PushGate({
    mirrors,
    store: new PushStore(path.join(dir, 'pushes.json')),
    git,
    audit: deps.audit,
    notifier,
    logger,
    clock: deps.clock,
  });
  const gateway = new GitGateway({
    dir,
    bindHost: deps.config.bindHost,
    mirrors,
    pushes,
    audit: deps.audit,
    logger,
    clock: deps.clock,
    ...(deps.gitBinary ? { gitBinary: deps.gitBinary } : {}),
  });
  const tasks = new TaskManager({
    stateFile: path.join(dir, 'tasks.json'),
    ...(deps.config.worktrees.root ? { root: deps.config.worktrees.root } : {}),
    branchPrefix: deps.config.worktrees.branchPrefix,
    git,
    audit: deps.audit,
    notifier,
    logger,
    clock: deps.clock,
  });
  const ports = new ListenerPorts(path.join(dir, 'listeners.json'));
  return { gateway, pushes, mirrors, notifier, tasks, ports, git, dir };
}
