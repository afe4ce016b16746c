/** One step of the git gateway, push review or task lifecycle, as the audit log receives it. Never holds a secret. */
export interface GitAuditEvent {
  readonly type:
    | 'git.fetch'
    | 'git.fetch.denied'
    | 'git.auth.denied'
    | 'git.push.allowed'
    | 'git.push.denied'
    | 'git.push.staged'
    | 'git.push.failed'
    | 'git.push.shown'
    | 'git.push.approved'
    | 'git.push.approve.refused'
    | 'git.push.conflict'
    | 'git.push.rejected'
    | 'task.created'
    | 'task.removed';
  readonly at: string;
  readonly sandbox?: string;
  readonly repo?: string;
  readonly ref?: string;
  readonly commit?: string;
  readonly pushId?: string;
  readonly decisionId?: string;
  readonly rule?: string;
  readonly detail?: string;
  readonly task?: string;
}

/** The audit module implements this with its hash-chained log; tests pass an array recorder. */
export interface GitAuditSink {
  record(event: GitAuditEvent): void | Promise<void>;
}
