import type { Clock, Logger } from '../shared/index.js';
import { newId } from '../shared/index.js';
import type { GitAuditEvent, GitAuditSink } from './audit.js';
import { gitGateErrors } from './errors.js';
import type { GitRunner } from './exec.js';
import { lastLines, type MirrorStore } from './mirror.js';
import type { Notifier } from './notify.js';
import { decideRef, stricter, type GitPolicy, type RefDecider } from './policy.js';
import type { PushRecord, PushStore } from './push-store.js';

export const ZERO_SHA = '0000000000000000000000000000000000000000';
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const MAX_DIFF_BYTES = 512 * 1024;

export interface PushContext {
  readonly sandboxId: string;
  readonly sandbox: string;
  readonly repo: string;
  readonly policy: GitPolicy;
  /** The policy layer's per-ref decision; combined with `policy` so the stricter one wins. */
  readonly decide: RefDecider;
}

export interface RefUpdate {
  readonly ref: string;
  readonly oldSha: string;
  readonly newSha: string;
  /** The receive-pack quarantine the new objects sit in while hooks run (GIT_OBJECT_DIRECTORY and alternates). */
  readonly objectEnv?: Record<string, string>;
}

export interface RefVerdict {
  readonly accept: boolean;
  /** Lines the pusher sees as `remote: aibox: …`. */
  readonly message: string[];
}

export interface PushShow {
  readonly push: PushRecord;
  readonly target: string | undefined;
  readonly commits: { sha: string; author: string; subject: string }[];
  readonly stat: string;
  readonly diff: string;
  readonly diffTruncated: boolean;
}

export interface PushGateDeps {
  readonly mirrors: MirrorStore;
  readonly store: PushStore;
  readonly git: GitRunner;
  readonly audit: GitAuditSink;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly clock: Clock;
}

/**
 * Decides every pushed ref (allow / require approval / deny), forwards allowed updates to the upstream, stages gated
 * ones on `refs/aibox/staging/<sandbox>/<push-id>` and runs the review: show, approve (bound to the reviewed commit),
 * reject.
 */
export class PushGate {
  constructor(private readonly deps: PushGateDeps) {}

  private now(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }

  private async audit(e: Omit<GitAuditEvent, 'at'>): Promise<void> {
    try {
      await this.deps.audit.record({ at: this.now(), ...e });
    } catch (err) {
      this.deps.logger.error({ err: String(err), type: e.type }, 'audit sink failed');
      throw err;
    }
  }

  /** Called (through the update hook) for each ref of a push, before receive-pack updates the mirror. */
  async onRefUpdate(ctx: PushContext, upd: RefUpdate): Promise<RefVerdict> {
    const op = upd.newSha === ZERO_SHA ? 'delete' : 'update';
    let decision = stricter(await ctx.decide(upd.ref, op), decideRef(ctx.policy, upd.ref, op));
    if (op === 'delete' && decision.action === 'require-approval') {
      // A deletion cannot be staged for review.
      decision = {
        ...decision,
        action: 'deny',
        rule: `${decision.rule} (deletions cannot be staged for approval)`,
      };
    }
    const base = {
      sandbox: ctx.sandbox,
      repo: ctx.repo,
      ref: upd.ref,
      decisionId: decision.id,
      rule: decision.rule,
    };
    switch (decision.action) {
      case 'deny':
        await this.audit({ type: 'git.push.denied', ...base, commit: upd.newSha });
        return {
          accept: false,
          message: [
            `push to ${upd.ref} denied by policy (decision ${decision.id}, rule: ${decision.rule}).`,
            'Push to another branch, or ask the project owner to allow this ref in the git policy.',
          ],
        };
      case 'allow':
        return this.forward(ctx, upd, base, op);
      case 'require-approval':
        return this.stage(ctx, upd, decision.id, decision.rule);
    }
  }

  private async forward(
    ctx: PushContext,
    upd: RefUpdate,
    base: Omit<GitAuditEvent, 'at' | 'type'>,
    op: 'update' | 'delete',
  ): Promise<RefVerdict> {
    const spec = op === 'delete' ? `:${upd.ref}` : `${upd.newSha}:${upd.ref}`;
    const r = await this.deps.mirrors.pushUpstream(ctx.repo, [spec], upd.objectEnv);
    if (r.exitCode === 0) {
      await this.audit({ type: 'git.push.allowed', ...base, commit: upd.newSha });
      return {
        accept: true,
        message: [
          `${upd.ref} ${op === 'delete' ? 'deleted' : 'updated'} upstream (decision ${base.decisionId}).`,
        ],
      };
    }
    const nonFf = /non-fast-forward|fetch first|rejected/.test(`${r.stdout}\n${r.stderr}`);
    await this.audit({
      type: 'git.push.failed',
      ...base,
      commit: upd.newSha,
      detail: nonFf ? 'non-fast-forward' : lastLines(r.stderr, 2),
    });
    return {
      accept: false,
      message: nonFf
        ? [
            `upstream refused ${upd.ref}: not a fast-forward (the branch moved, or this was a force push).`,
            'Fetch, rebase onto the new tip and push again; force pushes are never forwarded.',
          ]
        : [`upstream refused ${upd.ref}: ${lastLines(r.stderr, 2) || 'unknown error'}`],
    };
  }

  private async stage(
    ctx: PushContext,
    upd: RefUpdate,
    decisionId: string,
    rule: string,
  ): Promise<RefVerdict> {
    const existing = (await this.deps.store.list()).find(
      (p) =>
        p.sandboxId === ctx.sandboxId &&
        p.repo === ctx.repo &&
        p.ref === upd.ref &&
        (p.state === 'pending' || p.state === 'conflict'),
    );
    const id = existing?.id ?? newId('push');
    const stagingRef = existing?.stagingRef ?? `refs/aibox/staging/${ctx.sandbox}/${id}`;
    const r = await this.deps.mirrors.pushUpstream(ctx.repo, [`+${upd.newSha}:${stagingRef}`], upd.objectEnv);
    if (r.exitCode !== 0) {
      await this.audit({
        type: 'git.push.failed',
        sandbox: ctx.sandbox,
        repo: ctx.repo,
        ref: upd.ref,
        pushId: id,
        detail: lastLines(r.stderr, 2),
      });
      return {
        accept: false,
        message: [`could not stage ${upd.ref} upstream: ${lastLines(r.stderr, 2) || 'unknown error'}`],
      };
    }
    const at = this.now();
    const record: PushRecord = existing
      ? {
          ...existing,
          commit: upd.newSha,
          base: upd.oldSha === ZERO_SHA ? undefined : upd.oldSha,
          decisionId,
          rule,
          // reviewedCommit stays: it no longer equals `commit`, so approving the old review is refused as PUSH_MOVED.
          state: 'pending',
          updatedAt: at,
          history: [...existing.history, { at, event: 'restaged', commit: upd.newSha }],
        }
      : {
          id,
          sandboxId: ctx.sandboxId,
          sandbox: ctx.sandbox,
          repo: ctx.repo,
          ref: upd.ref,
          stagingRef,
          commit: upd.newSha,
          base: upd.oldSha === ZERO_SHA ? undefined : upd.oldSha,
          decisionId,
          rule,
          state: 'pending',
          createdAt: at,
          updatedAt: at,
          history: [{ at, event: 'staged', commit: upd.newSha }],
        };
    await this.deps.store.put(record);
    await this.audit({
      type: 'git.push.staged',
      sandbox: ctx.sandbox,
      repo: ctx.repo,
      ref: upd.ref,
      commit: upd.newSha,
      pushId: id,
      decisionId,
      rule,
    });
    await this.deps.notifier.notify({
      kind: 'push.pending',
      title: `${ctx.sandbox} pushed ${shortRef(upd.ref)} of ${ctx.repo}: waiting for approval`,
      sandbox: ctx.sandbox,
      pushId: id,
      action: `aibox push show ${id}`,
    });
    return {
      accept: true,
      message: [
        `push ${id}: ${upd.ref} needs approval (decision ${decisionId}, rule: ${rule}).`,
        `Staged upstream as ${stagingRef}; ${upd.ref} itself is unchanged.`,
        `A person reviews it with \`aibox push show ${id}\` and \`aibox push approve ${id}\`.`,
        existing
          ? `This push replaced the earlier commits of ${id}; any earlier review no longer counts.`
          : `Keep working: pushing ${shortRef(upd.ref)} again updates ${id} (and voids an earlier review).`,
      ],
    };
  }

  async list(filter: { state?: PushRecord['state']; sandbox?: string } = {}): Promise<PushRecord[]> {
    return (await this.deps.store.list())
      .filter(
        (p) =>
          (!filter.state || p.state === filter.state) && (!filter.sandbox || p.sandbox === filter.sandbox),
      )
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async get(id: string): Promise<PushRecord> {
    const p = await this.deps.store.get(id);
    if (!p) throw gitGateErrors.create('PUSH_NOT_FOUND', `no push with id ${id}`);
    return p;
  }

  /** The commits and diff of a push against the target's current tip; records that this commit was reviewed. */
  async show(id: string, opts: { record?: boolean } = {}): Promise<PushShow> {
    const push = await this.get(id);
    const dir = await this.deps.mirrors.refresh(push.repo);
    const git = (args: string[]) => this.deps.git.run(args, { gitDir: dir });
    const target = await this.revParse(dir, push.ref);
    const exclude = target ? [`^${target}`] : ['--not', '--branches', '--tags'];
    const log = await git(['log', '--format=%H%x09%an <%ae>%x09%s', '-n', '200', push.commit, ...exclude]);
    const commits = log
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [sha = '', author = '', subject = ''] = l.split('\t');
        return { sha, author, subject };
      });
    const from = target
      ? ((await this.mergeBase(dir, target, push.commit)) ?? EMPTY_TREE)
      : await this.defaultBase(dir, push.commit);
    const stat = await git(['diff', '--stat', from, push.commit]);
    const full = await git(['diff', from, push.commit]);
    const diffTruncated = Buffer.byteLength(full) > MAX_DIFF_BYTES;
    const diff = diffTruncated ? Buffer.from(full).subarray(0, MAX_DIFF_BYTES).toString() : full;
    let result = push;
    if (opts.record !== false && (push.state === 'pending' || push.state === 'conflict')) {
      const at = this.now();
      result = {
        ...push,
        reviewedCommit: push.commit,
        updatedAt: at,
        history: [...push.history, { at, event: 'shown', commit: push.commit }],
      };
      await this.deps.store.put(result);
      await this.audit({
        type: 'git.push.shown',
        sandbox: push.sandbox,
        repo: push.repo,
        ref: push.ref,
        commit: push.commit,
        pushId: id,
      });
    }
    return { push: result, target, commits, stat, diff, diffTruncated };
  }

  /**
   * Approves the exact commit reviewed (`commit`, else the one the last `show` recorded). Refused if the staging ref
   * moved since; a target that moved so the commit no longer fast-forwards is reported as a conflict.
   */
  async approve(id: string, opts: { commit?: string; by?: string } = {}): Promise<PushRecord> {
    const push = await this.get(id);
    if (push.state !== 'pending' && push.state !== 'conflict') {
      throw gitGateErrors.create('PUSH_NOT_PENDING', `push ${id} is ${push.state}`);
    }
    const audit = { sandbox: push.sandbox, repo: push.repo, ref: push.ref, pushId: id };
    const expected = opts.commit ?? push.reviewedCommit;
    if (!expected) {
      await this.audit({
        type: 'git.push.approve.refused',
        ...audit,
        commit: push.commit,
        detail: 'not reviewed',
      });
      throw gitGateErrors.create(
        'PUSH_NOT_REVIEWED',
        `push ${id} was not reviewed; nothing binds the approval to a commit`,
      );
    }
    const upstream = await this.deps.mirrors.upstreamRef(push.repo, push.stagingRef);
    if (expected.length < 7 || !push.commit.startsWith(expected) || upstream !== push.commit) {
      await this.record(
        push,
        'approve-refused',
        `reviewed ${expected.slice(0, 12)}, staged ${(upstream ?? 'nothing').slice(0, 12)}`,
      );
      await this.audit({
        type: 'git.push.approve.refused',
        ...audit,
        commit: upstream ?? push.commit,
        detail: `reviewed ${expected}`,
      });
      throw gitGateErrors.create(
        'PUSH_MOVED',
        `push ${id} moved since it was reviewed: reviewed ${expected.slice(0, 12)}, now ${(upstream ?? 'deleted').slice(0, 12)}`,
        { reviewed: expected, current: upstream ?? null },
      );
    }
    const dir = await this.deps.mirrors.refresh(push.repo);
    const target = await this.revParse(dir, push.ref);
    if (target && !(await this.isAncestor(dir, target, push.commit))) return this.conflict(push, target);
    const r = await this.deps.mirrors.pushUpstream(push.repo, [`${push.commit}:${push.ref}`]);
    if (r.exitCode !== 0) {
      if (/non-fast-forward|fetch first|rejected/.test(`${r.stdout}\n${r.stderr}`))
        return this.conflict(push, target);
      throw gitGateErrors.create('GIT_UPSTREAM_FAILED', `updating ${push.ref} of ${push.repo} failed`, {
        git: lastLines(r.stderr),
      });
    }
    await this.dropStagingRef(push);
    const done = await this.record({ ...push, state: 'approved' }, 'approved', opts.by);
    await this.audit({ type: 'git.push.approved', ...audit, commit: push.commit, detail: opts.by });
    return done;
  }

  async reject(id: string, opts: { reason?: string; by?: string } = {}): Promise<PushRecord> {
    const push = await this.get(id);
    if (push.state !== 'pending' && push.state !== 'conflict') {
      throw gitGateErrors.create('PUSH_NOT_PENDING', `push ${id} is ${push.state}`);
    }
    await this.dropStagingRef(push);
    const done = await this.record(
      { ...push, state: 'rejected', reason: opts.reason },
      'rejected',
      opts.reason,
    );
    await this.audit({
      type: 'git.push.rejected',
      sandbox: push.sandbox,
      repo: push.repo,
      ref: push.ref,
      pushId: id,
      commit: push.commit,
      detail: opts.reason,
    });
    return done;
  }

  private async conflict(push: PushRecord, target: string | undefined): Promise<never> {
    await this.record({ ...push, state: 'conflict' }, 'conflict', `target at ${target ?? '?'}`);
    await this.audit({
      type: 'git.push.conflict',
      sandbox: push.sandbox,
      repo: push.repo,
      ref: push.ref,
      pushId: push.id,
      commit: push.commit,
      detail: `target ${target ?? '?'}`,
    });
    throw gitGateErrors.create(
      'PUSH_CONFLICT',
      `push ${push.id}: ${push.ref} moved to ${(target ?? '?').slice(0, 12)}; ${push.commit.slice(0, 12)} is not a fast-forward`,
      { target: target ?? null, commit: push.commit },
    );
  }

  private async record(
    push: PushRecord,
    event: PushRecord['history'][number]['event'],
    detail?: string,
  ): Promise<PushRecord> {
    const at = this.now();
    const next: PushRecord = {
      ...push,
      updatedAt: at,
      history: [...push.history, { at, event, commit: push.commit, ...(detail ? { detail } : {}) }],
    };
    await this.deps.store.put(next);
    return next;
  }

  private async dropStagingRef(push: PushRecord): Promise<void> {
    const r = await this.deps.mirrors.pushUpstream(push.repo, [`:${push.stagingRef}`]);
    if (r.exitCode !== 0)
      this.deps.logger.warn({ push: push.id, git: lastLines(r.stderr, 2) }, 'staging ref not deleted');
  }

  private async revParse(dir: string, ref: string): Promise<string | undefined> {
    const r = await this.deps.git.try(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {
      gitDir: dir,
    });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }

  private async mergeBase(dir: string, a: string, b: string): Promise<string | undefined> {
    const r = await this.deps.git.try(['merge-base', a, b], { gitDir: dir });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }

  private async defaultBase(dir: string, commit: string): Promise<string> {
    const head = await this.revParse(dir, 'HEAD');
    return (head && (await this.mergeBase(dir, head, commit))) ?? EMPTY_TREE;
  }

  private async isAncestor(dir: string, a: string, b: string): Promise<boolean> {
    const r = await this.deps.git.try(['merge-base', '--is-ancestor', a, b], { gitDir: dir });
    return r.exitCode === 0;
  }
}

function shortRef(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}
