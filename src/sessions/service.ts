import path from 'node:path';
import { z } from 'zod';
import {
  CreateSessionRequest,
  SessionExecRequest,
  type SessionExecResult,
  type SessionReport,
} from '../shared/api/sessions.js';
import type { Caller } from '../shared/caller.js';
import { isAiboxError, messageOf } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { readJsonFile, writeJsonAtomic } from '../shared/fs/index.js';
import type { SessionsConfig } from './config.js';
import { sessionErrors } from './errors.js';
import { SessionLedger, type ExpiryReason } from './ledger.js';
import type { SessionMetrics } from './metrics.js';
import { workspaceSegments } from './paths.js';
import { WorkspaceFs } from './workspace-fs.js';

/** What sessions need of the daemon's sandbox service (implemented over SandboxService by the composition root). */
export interface SessionBackend {
  /** A sandbox with no host folder (claimed from the warm pool when one is ready). */
  createEphemeral(
    request: { profile: string; env: Record<string, string>; team?: string },
    caller: Caller,
  ): Promise<{ id: string; name: string; warm: boolean }>;
  remove(name: string): Promise<void>;
  execBuffered(
    name: string,
    options: { cmd: string[]; env: Record<string, string>; workdir?: string; timeoutMs: number },
  ): Promise<{ exitCode: number; stdout: string; stderr: string; truncated: boolean; timedOut: boolean }>;
  /** The policy exec door (advisory, like every exec through aiboxd); throws when refused. */
  authorizeExec(name: string, argv: string[]): Promise<void>;
  /** The host folder mounted at /workspace, and who owns what the daemon makes in it. */
  workspace(sandboxId: string): { root: string; owner: { uid: number; gid: number } };
}

/** Who asks: a token (owner `tok_…`), or a user on the unix socket (owner `uid:N`). */
export interface SessionActor {
  owner: string;
  /** Admin tokens and root see and act on every session. */
  admin: boolean;
  /** The uid the sandbox is created for (root for tokens: only the session service hands them out). */
  caller: Caller;
  team?: string | undefined;
}

const SessionRecord = z.object({
  id: z.string(),
  sandboxId: z.string(),
  sandboxName: z.string(),
  owner: z.string(),
  team: z.string().optional(),
  profile: z.string(),
  warm: z.boolean(),
  createdAt: z.number(),
  lastActivityAt: z.number(),
  expiresAt: z.number(),
  idleMs: z.number(),
});
type SessionRecord = z.infer<typeof SessionRecord>;
const RegistryFile = z.object({ version: z.literal(1), sessions: z.array(SessionRecord) });

/**
 * Sessions: sandboxes for programs, each with a fresh size-capped workspace (a tmpfs of the sandbox service),
 * owned by the token or socket user that made it, removed at its idle or absolute TTL or on request. The list
 * is kept in `<stateDir>/sessions/sessions.json` so a restarted daemon still expires what the last one made.
 */
export class SessionService {
  private readonly ledger: SessionLedger;
  private readonly records = new Map<string, SessionRecord>();
  private readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private reaping: Promise<void> | undefined;
  private closed = false;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: {
      backend: SessionBackend;
      config: SessionsConfig;
      stateDir: string;
      logger: Logger;
      metrics: SessionMetrics;
      now?: () => number;
    },
  ) {
    const c = deps.config;
    this.ledger = new SessionLedger(
      {
        maxPerOwner: c.maxPerToken,
        maxTotal: c.maxTotal,
        defaultTtlSeconds: c.defaultTtlSeconds,
        maxTtlSeconds: c.maxTtlSeconds,
        defaultIdleSeconds: c.defaultIdleSeconds,
        maxIdleSeconds: c.maxIdleSeconds,
      },
      deps.now ?? Date.now,
    );
    this.file = path.join(deps.stateDir, 'sessions', 'sessions.json');
  }

  /** Reads the sessions a previous daemon life left, and starts expiring. */
  async start(): Promise<void> {
    const stored = await readJsonFile(this.file, RegistryFile);
    for (const r of stored?.sessions ?? []) {
      this.records.set(r.id, r);
      this.ledger.restore(r);
    }
    this.deps.metrics.active.set(this.records.size);
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.reaping;
    await this.saving;
  }

  async create(input: unknown, actor: SessionActor): Promise<SessionReport> {
    const request = CreateSessionRequest.parse(input ?? {});
    const id = newId('ses', 8);
    try {
      this.ledger.reserve(id, actor.owner, request);
    } catch (err) {
      this.deps.metrics.refused.inc({ reason: 'quota' });
      throw err;
    }
    let sandbox: { id: string; name: string; warm: boolean } | undefined;
    try {
      sandbox = await this.deps.backend.createEphemeral(
        {
          profile: request.profile === 'session' ? this.deps.config.defaultProfile : request.profile,
          env: request.env,
          // The token's team layer sits between the org and the session (tighten-only, like a project's team).
          ...(actor.team !== undefined ? { team: actor.team } : {}),
        },
        actor.caller,
      );
      const entry = this.ledger.get(id)!;
      const record: SessionRecord = {
        id,
        sandboxId: sandbox.id,
        sandboxName: sandbox.name,
        owner: actor.owner,
        ...(actor.team ? { team: actor.team } : {}),
        profile: request.profile,
        warm: sandbox.warm,
        createdAt: entry.createdAt,
        lastActivityAt: entry.lastActivityAt,
        expiresAt: entry.expiresAt,
        idleMs: entry.idleMs,
      };
      if (request.files.length > 0) {
        const fs = this.fsOf(record);
        const budget = { remaining: this.deps.config.maxFileBytes * 4 };
        for (const f of request.files) {
          const data = Buffer.from(f.content, f.encoding === 'base64' ? 'base64' : 'utf8');
          await fs.writeFile(workspaceSegments(f.path), data, { mode: f.mode, budget });
        }
      }
      this.records.set(id, record);
      await this.save();
      this.deps.metrics.created.inc({ warm: String(sandbox.warm) });
      this.deps.metrics.active.set(this.records.size);
      this.deps.logger.info(
        { session: id, sandbox: sandbox.name, owner: actor.owner, warm: sandbox.warm },
        'session created',
      );
      this.schedule();
      return this.report(record);
    } catch (err) {
      this.ledger.release(id);
      this.records.delete(id);
      if (sandbox) await this.deps.backend.remove(sandbox.name).catch(() => undefined);
      throw err;
    }
  }

  get(id: string, actor: SessionActor): SessionReport {
    return this.report(this.visible(id, actor));
  }

  list(actor: SessionActor): SessionReport[] {
    return [...this.records.values()]
      .filter((r) => actor.admin || r.owner === actor.owner)
      .map((r) => this.report(r));
  }

  /** Who holds a session on each sandbox (sandbox name → owner), for reports: no idle clock is touched. */
  ownersBySandbox(): Map<string, string> {
    return new Map([...this.records.values()].map((r) => [r.sandboxName, r.owner]));
  }

  async remove(id: string, actor: SessionActor): Promise<void> {
    await this.drop(this.visible(id, actor), 'request');
  }

  async exec(id: string, input: unknown, actor: SessionActor): Promise<SessionExecResult> {
    const record = this.use(id, actor);
    const spec = SessionExecRequest.parse(input ?? {});
    await this.deps.backend.authorizeExec(record.sandboxName, spec.cmd);
    const started = performance.now();
    const timer = this.deps.metrics.execSeconds.startTimer();
    try {
      const r = await this.deps.backend.execBuffered(record.sandboxName, {
        cmd: spec.cmd,
        env: spec.env,
        ...(spec.workdir ? { workdir: spec.workdir } : {}),
        timeoutMs: Math.round(spec.timeoutSeconds * 1000),
      });
      this.deps.metrics.execs.inc({ outcome: r.timedOut ? 'timeout' : r.exitCode === 0 ? 'ok' : 'nonzero' });
      // A timed-out command answers as on every exec route: the SIGKILL's 137 with timedOut (SPEC §3).
      return { ...r, durationMs: Math.round(performance.now() - started) };
    } catch (err) {
      this.deps.metrics.execs.inc({ outcome: 'error' });
      throw err;
    } finally {
      timer();
      this.ledger.touch(record.id);
    }
  }

  /** The sandbox behind a session, for streaming exec (the caller authorises and runs the command). */
  sandboxOf(id: string, actor: SessionActor): string {
    return this.use(id, actor).sandboxName;
  }

  /** The session's workspace files, confined (no link is followed). */
  files(id: string, actor: SessionActor): WorkspaceFs {
    return this.fsOf(this.use(id, actor));
  }

  /** A request used the session (its idle clock restarts). */
  touch(id: string): void {
    this.ledger.touch(id);
  }

  /**
   * While a streaming exec is open the session is in use, whether or not bytes flow (a quiet build, a REPL waiting
   * for input): its idle clock restarts at twice the idle TTL's pace until `stop` (the absolute TTL still applies).
   */
  keepAlive(id: string): () => void {
    const record = this.records.get(id);
    if (!record) return () => undefined;
    this.ledger.touch(id);
    const every = Math.min(30_000, Math.max(100, Math.floor(record.idleMs / 3)));
    const timer = setInterval(() => this.ledger.touch(id), every);
    timer.unref();
    return () => {
      clearInterval(timer);
      this.ledger.touch(id);
    };
  }

  /** Removes every session past a deadline now. */
  async reap(): Promise<{ id: string; reason: ExpiryReason }[]> {
    const expired = this.ledger.expired();
    for (const { id, reason } of expired) {
      const record = this.records.get(id);
      if (record) await this.drop(record, reason);
      else this.ledger.release(id);
      this.deps.metrics.expired.inc({ reason });
    }
    return expired;
  }

  private fsOf(record: SessionRecord): WorkspaceFs {
    const ws = this.deps.backend.workspace(record.sandboxId);
    return new WorkspaceFs(ws.root, {
      maxFileBytes: this.deps.config.maxFileBytes,
      maxTotalBytes: Number.MAX_SAFE_INTEGER, // the tmpfs is the cap (ENOSPC → SESSION_WORKSPACE_FULL)
      owner: ws.owner,
    });
  }

  private visible(id: string, actor: SessionActor): SessionRecord {
    const record = this.records.get(id);
    // Someone else's session answers exactly like a missing one: ids are not for probing.
    if (!record || !(actor.admin || record.owner === actor.owner)) {
      throw sessionErrors.create('SESSION_NOT_FOUND', `no session ${id.slice(0, 64)}`);
    }
    return record;
  }

  private use(id: string, actor: SessionActor): SessionRecord {
    const record = this.visible(id, actor);
    this.ledger.touch(id);
    return record;
  }

  private async drop(record: SessionRecord, why: ExpiryReason | 'request'): Promise<void> {
    this.records.delete(record.id);
    this.ledger.release(record.id);
    this.deps.metrics.active.set(this.records.size);
    try {
      await this.deps.backend.remove(record.sandboxName);
    } catch (err) {
      // Already gone (a restart, an operator's rm) is fine; anything else is logged, the session is over anyway.
      if (!(isAiboxError(err) && err.status === 404)) {
        this.deps.logger.warn(
          { session: record.id, err: messageOf(err) },
          'cannot remove the session sandbox',
        );
      }
    }
    await this.save();
    this.deps.logger.info({ session: record.id, sandbox: record.sandboxName, why }, 'session removed');
  }

  private report(record: SessionRecord): SessionReport {
    const entry = this.ledger.get(record.id);
    const last = entry?.lastActivityAt ?? record.lastActivityAt;
    return {
      id: record.id,
      state: 'running',
      profile: record.profile,
      createdAt: new Date(record.createdAt).toISOString(),
      lastActivityAt: new Date(last).toISOString(),
      expiresAt: new Date(record.expiresAt).toISOString(),
      idleExpiresAt: new Date(Math.min(last + record.idleMs, record.expiresAt)).toISOString(),
      owner: record.owner,
      ...(record.team ? { team: record.team } : {}),
      warm: record.warm,
    };
  }

  private save(): Promise<void> {
    const sessions = [...this.records.values()].map((r) => ({
      ...r,
      lastActivityAt: this.ledger.get(r.id)?.lastActivityAt ?? r.lastActivityAt,
    }));
    const write = () =>
      writeJsonAtomic(this.file, { version: 1, sessions }, { mode: 0o600, mkdirMode: 0o700 });
    this.saving = this.saving.then(write, write);
    return this.saving;
  }

  /** The reaper wakes at the next deadline (at least every 30 s, at most every 250 ms). */
  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    const next = this.ledger.nextDeadlineInMs();
    const delay = Math.min(30_000, Math.max(250, next ?? 30_000));
    this.timer = setTimeout(() => {
      this.reaping = this.reap()
        .then(() => undefined)
        .catch((err: unknown) => this.deps.logger.error({ err: messageOf(err) }, 'session reaper failed'))
        .finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }
}
