import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { AuditLog } from '../../audit/index.js';
import { loadProfile } from '../../config/index.js';
import {
  EgressRequest,
  egressDoor,
  FilePolicySource,
  type EffectiveEgress,
  type LayerView,
} from '../../policy/index.js';
import {
  addDestination,
  editProjectPolicy,
  LearnRecorder,
  ProposalEndpoint,
  proposalErrors,
  proposalReport,
  ProposalStore,
  ProposalSubmission,
  proposeProjectPolicy,
  RateLimit,
  standingOf,
  type LearnedHost,
  type LearnReport,
  type ObservedDecision,
  type ProposalRecord,
  type ProposalReport,
  type Standing,
} from '../../proposals/index.js';
import { newId } from '../../shared/ids.js';
import { messageOf, systemClock, type Clock, type Logger, type PolicyDecision } from '../../shared/index.js';
import { writeJsonAtomic } from '../../shared/fs/index.js';
import type {
  HookDeps,
  RunningSandbox,
  SandboxContribution,
  SandboxHook,
  SandboxHookContext,
} from './hooks.js';

/** Submissions per sandbox: a burst of 10, then one every 6 s. */
const RATE_BURST = 10;
const RATE_EVERY_MS = 6_000;
/** Pending proposals one sandbox may have at once (a person reviews them). */
const MAX_PENDING = 50;

/** What the proposals layer needs of the policy service. */
export interface ProposalPolicy {
  decide(door: 'egress', request: unknown, sandbox?: string): Promise<PolicyDecision>;
  /** The sandbox's org/team layers' static rule (learn mode's switch). */
  layerValues(sandbox: string, door: string, rule: string): { layer: string; value: unknown }[];
  team(sandbox: string): string | undefined;
  /** Re-reads the sandbox's aibox/policy.yaml now (after approval wrote it), rather than after the watcher's delay. */
  reloadProject(sandbox: string): Promise<void>;
  /**
   * Learn mode's egress: what the sandbox's org and team layers allow (hosts, ports, method/path rules), without
   * the project's narrowing. Raw TCP stays the sandbox's own: the proxy would not see (nor record) it.
   */
  ceiling(sandbox: string): EffectiveEgress;
  /** Called after every enforcement layer applied a change of a sandbox's egress policy; returns the unsubscribe. */
  onEgressChange(listener: (sandbox: string) => Promise<void>): () => void;
}

/** What learn mode needs of the egress layer (src/daemon/services/egress.ts). */
export interface LearnEgress {
  /** Whether the egress layer enforces (and so observes) this sandbox's traffic. */
  enforces(sandboxId: string): boolean;
  /** Every egress decision from now on; returns the unsubscribe. */
  observe(listener: (d: ObservedDecision) => void): () => void;
  /** Renders the sandbox's egress from `ceiling` (learn mode); undefined renders its policy again. Throws if not applied. */
  learnCeiling(sandboxId: string, ceiling: EffectiveEgress | undefined): Promise<void>;
}

/** The policy service as the proposals layer's ProposalPolicy. */
export function proposalPolicy(policy: {
  decide(door: 'egress', request: unknown, sandbox?: string): Promise<PolicyDecision>;
  onChange(door: 'egress', layer: string, apply: (change: { sandbox: string }) => Promise<void>): () => void;
  store: {
    policySet(sandbox?: string): {
      team?: string | undefined;
      layers: readonly LayerView[];
      effective: { egress: EffectiveEgress };
    };
    reloadProject(name: string): Promise<unknown>;
  };
}): ProposalPolicy {
  return {
    decide: (door, request, sandbox) => policy.decide(door, request, sandbox),
    layerValues: (sandbox, door, rule) =>
      policy.store
        .policySet(sandbox)
        .layers.filter((l) => l.layer !== 'project')
        .flatMap((l) => {
          const got = l.static(door, rule);
          return got === undefined ? [] : [{ layer: l.layer, value: got.value }];
        }),
    team: (sandbox) => policy.store.policySet(sandbox).team,
    reloadProject: async (sandbox) => {
      await policy.store.reloadProject(sandbox);
    },
    ceiling: (sandbox) => {
      const set = policy.store.policySet(sandbox);
      const above = egressDoor.effective(set.layers.filter((l) => l.layer !== 'project')).value;
      return { ...above, allowTcp: set.effective.egress.allowTcp };
    },
    onEgressChange: (listener) => policy.onChange('egress', 'learn', (change) => listener(change.sandbox)),
  };
}

export interface ProposalsServiceDeps extends HookDeps {
  audit: Pick<AuditLog, 'append'>;
  policy: ProposalPolicy;
  egress?: LearnEgress;
  clock?: Clock;
}

interface Known {
  id: string;
  name: string;
  path: string;
  profile: string;
  ephemeral: boolean;
}

interface LearnRun {
  sandbox: Known;
  recorder: LearnRecorder;
  startedAt: number;
  until: number;
  timer: NodeJS.Timeout;
  unsubscribe: () => void;
  /** The ceiling is in force (until then the run is not shown: the sandbox is not learning yet). */
  started?: boolean;
  stopping?: boolean;
}

/** What a restarted daemon needs to serve a running sandbox again: its port and its submission token. */
const EndpointState = z.object({
  port: z.number().int().positive(),
  token: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,128}$/)
    .optional(),
});

/**
 * Agent-proposed policy as a sandbox layer: every sandbox gets its own proposal endpoint (AIBOX_PROPOSALS_URL,
 * opened by the egress rules like the other gateways); a proposal is checked against the layered policy at once
 * (already allowed, above the org/team ceiling: rejected with the layer, or pending for a person). Approval edits
 * the project's aibox/policy.yaml on the host; rejection keeps a reason the agent reads back. Every step is in the
 * audit log (kind `proposal`) with its decision id. Learn mode (`aibox egress learn`) lives here too.
 */
export class ProposalsService implements SandboxHook {
  readonly layer = 'proposals';
  private readonly known = new Map<string, Known>();
  private readonly endpoints = new Map<string, ProposalEndpoint>();
  private readonly limits = new Map<string, RateLimit>();
  private readonly learns = new Map<string, LearnRun>();
  private readonly finished = new Map<string, LearnReport>();
  private readonly portsDir: string;
  private readonly unsubscribePolicy: () => void;

  private constructor(
    private readonly deps: ProposalsServiceDeps,
    readonly store: ProposalStore,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.portsDir = path.join(deps.config.stateDir, 'proposal-endpoints');
    // Registered after the egress layer's listener: that one renders the changed policy alone, this one widens a
    // learning sandbox to its (possibly changed) ceiling again, or ends the run if learning is no longer allowed.
    this.unsubscribePolicy = deps.policy.onEgressChange((sandbox) => this.relearn(sandbox));
  }

  static async create(deps: ProposalsServiceDeps): Promise<ProposalsService> {
    const logger = deps.logger.child({ svc: 'proposals' });
    const store = await ProposalStore.open(deps.config.stateDir, logger);
    return new ProposalsService(deps, store, logger, deps.clock ?? systemClock);
  }

  private get sandboxHost(): string {
    return this.deps.config.egress.sandboxHostAddress;
  }

  private get listenHost(): string {
    return this.deps.config.egress.listenAddress;
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    await this.closeEndpoint(ctx.id);
    const token = randomBytes(24).toString('base64url');
    const endpoint = await this.openEndpoint(ctx, undefined, token);
    await writeJsonAtomic(
      this.portFile(ctx.id),
      { port: endpoint.port, token },
      { mode: 0o600, mkdirMode: 0o700 },
    );
    const base = `http://${this.sandboxHost}:${endpoint.port}`;
    return {
      // The token binds a submission to this sandbox (any host process can reach the port); not a secret of value.
      env: { AIBOX_PROPOSALS_URL: `${base}/proposals`, AIBOX_PROPOSALS_TOKEN: token },
      network: true,
      endpoints: { proposals: base },
    };
  }

  async adopt(sandbox: RunningSandbox): Promise<void> {
    const state = await readFile(this.portFile(sandbox.id), 'utf8')
      .then((t) => EndpointState.parse(JSON.parse(t)))
      .catch(() => undefined);
    // Without its old port the sandbox's rules and environment point nowhere: its proposals fail until a restart.
    if (!state) {
      this.logger.warn(
        { sandbox: sandbox.name },
        'no proposal endpoint state; restart the sandbox to propose',
      );
      this.remember(sandbox);
      return;
    }
    // A state written before tokens existed: the sandbox holds none, so nothing can submit until it restarts.
    if (!state.token)
      this.logger.warn(
        { sandbox: sandbox.name },
        'no proposal token recorded; restart the sandbox to propose',
      );
    await this.openEndpoint(sandbox, state.port, state.token ?? randomBytes(24).toString('base64url'));
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    await this.stopLearning(ctx.name, 'the sandbox stopped', { sandboxGone: true });
    await this.closeEndpoint(ctx.id);
    this.known.delete(ctx.id);
    this.limits.delete(ctx.id);
    await rm(this.portFile(ctx.id), { force: true });
  }

  async close(): Promise<void> {
    this.unsubscribePolicy();
    for (const name of [...this.learns.keys()]) await this.stopLearning(name, 'the daemon stopped');
    for (const id of [...this.endpoints.keys()]) await this.closeEndpoint(id);
  }

  /** The running endpoint's port of a sandbox (tests). */
  endpointPort(sandboxId: string): number | undefined {
    return this.endpoints.get(sandboxId)?.port;
  }

  private remember(ctx: SandboxHookContext): Known {
    const k = {
      id: ctx.id,
      name: ctx.name,
      path: ctx.path,
      profile: ctx.profile,
      ephemeral: ctx.ephemeral === true,
    };
    this.known.set(ctx.id, k);
    return k;
  }

  private async openEndpoint(
    ctx: SandboxHookContext,
    port: number | undefined,
    token: string,
  ): Promise<ProposalEndpoint> {
    this.remember(ctx);
    const limit = new RateLimit(RATE_BURST, RATE_EVERY_MS, this.clock);
    this.limits.set(ctx.id, limit);
    const endpoint = await ProposalEndpoint.listen({
      sandboxId: ctx.id,
      limit,
      logger: this.logger,
      token,
      host: this.listenHost,
      ...(port ? { port } : {}),
      handler: {
        submit: (sandboxId, body) => this.submit(sandboxId, body),
        get: (sandboxId, id) => {
          const rec = this.store.list().find((r) => r.id === id && r.sandboxId === sandboxId);
          // Another sandbox's proposal is not this one's to see: the same answer as no proposal at all.
          if (!rec) throw proposalErrors.create('PROPOSAL_NOT_FOUND', `no proposal ${id} from this sandbox`);
          return proposalReport(rec);
        },
        list: (sandboxId) =>
          this.store
            .list()
            .filter((r) => r.sandboxId === sandboxId)
            .map(proposalReport),
      },
    });
    this.endpoints.set(ctx.id, endpoint);
    return endpoint;
  }

  private async closeEndpoint(id: string): Promise<void> {
    const endpoint = this.endpoints.get(id);
    this.endpoints.delete(id);
    await endpoint?.close();
  }

  private portFile(id: string): string {
    return path.join(this.portsDir, `${id}.json`);
  }

  /** A proposal from inside sandbox `sandboxId` (the endpoint it reached says which). */
  async submit(sandboxId: string, body: unknown): Promise<{ created: boolean; proposal: ProposalReport }> {
    const sandbox = this.known.get(sandboxId);
    if (!sandbox)
      throw proposalErrors.create('PROPOSAL_NOT_FOUND', 'this sandbox is not known to the daemon');
    const parsed = ProposalSubmission.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      throw proposalErrors.create('PROPOSAL_INVALID', `${where}${issue.message}`, {
        field: issue.path.join('.'),
      });
    }
    const p = parsed.data;
    const mine = this.store.list({ sandbox: sandbox.name }).filter((r) => r.sandboxId === sandboxId);
    const same = mine.find(
      (r) =>
        r.state === 'pending' &&
        r.host === p.host &&
        r.port === p.port &&
        JSON.stringify(r.methods ?? null) === JSON.stringify(p.methods ?? null) &&
        JSON.stringify(r.paths ?? null) === JSON.stringify(p.paths ?? null),
    );
    if (same) return { created: false, proposal: proposalReport(same) };
    if (mine.filter((r) => r.state === 'pending').length >= MAX_PENDING)
      throw proposalErrors.create(
        'PROPOSAL_RATE_LIMITED',
        `this sandbox already has ${MAX_PENDING} proposals waiting for review`,
      );
    const { decision, standing } = await this.standing(sandbox.name, p);
    const now = new Date(this.clock.now()).toISOString();
    const rec: ProposalRecord = {
      id: newId('prp'),
      sandbox: sandbox.name,
      sandboxId,
      ...(sandbox.ephemeral ? {} : { projectPath: sandbox.path }),
      host: p.host,
      port: p.port,
      ...(p.methods ? { methods: p.methods } : {}),
      ...(p.paths ? { paths: p.paths } : {}),
      reason: p.reason,
      state: standing.kind === 'project' ? 'pending' : standing.kind === 'allowed' ? 'allowed' : 'rejected',
      createdAt: now,
      updatedAt: now,
      decisionId: decision.id,
      ...(standing.kind === 'project' ? {} : { resolution: automatic(standing, decision.id, now) }),
    };
    await this.store.create(rec);
    await this.audit(rec, 'submitted', {
      decisionId: decision.id,
      standing: standing.kind,
      reason: p.reason,
    });
    this.logger.info(
      { proposal: rec.id, sandbox: rec.sandbox, host: rec.host, port: rec.port, state: rec.state },
      'policy proposal',
    );
    return { created: true, proposal: proposalReport(rec) };
  }

  list(filter: { sandbox?: string; state?: ProposalRecord['state'] } = {}): ProposalRecord[] {
    return this.store.list(filter);
  }

  get(id: string): ProposalRecord {
    return this.store.get(id);
  }

  /**
   * Writes the proposal into the project's aibox/policy.yaml (host side) and re-reads it, so the next egress
   * decision allows it. Re-checked against the ceiling first: the org or team policy may have changed meanwhile.
   */
  async approve(id: string, by: { uid: number }): Promise<ProposalRecord> {
    return this.store.update(id, async (rec) => {
      if (rec.state !== 'pending')
        throw proposalErrors.create('PROPOSAL_ALREADY_DECIDED', `proposal ${id} is already ${rec.state}`, {
          state: rec.state,
        });
      if (!rec.projectPath)
        throw proposalErrors.create(
          'PROPOSAL_NO_PROJECT',
          `sandbox ${rec.sandbox} has no host project folder: there is no aibox/policy.yaml to change`,
        );
      const running = [...this.known.values()].find((k) => k.id === rec.sandboxId);
      const now = () => new Date(this.clock.now()).toISOString();
      // A stopped sandbox has no composed policy any more: its ceiling is then the org's with the default team.
      {
        const { decision: before, standing } = await this.standing(running ? rec.sandbox : undefined, rec);
        if (standing.kind === 'ceiling') {
          const rejected: ProposalRecord = {
            ...rec,
            state: 'rejected',
            updatedAt: now(),
            resolution: automatic(standing, before.id, now()),
          };
          await this.audit(rejected, 'rejected', { by: 'ceiling', decisionId: before.id, uid: by.uid });
          return rejected;
        }
      }
      const change = await editProjectPolicy(rec.projectPath, (text) => addDestination(text, rec));
      let decisionId: string | undefined;
      if (running) {
        await this.deps.policy.reloadProject(rec.sandbox);
        decisionId = (await this.standing(rec.sandbox, rec)).decision.id;
      }
      const approved: ProposalRecord = {
        ...rec,
        state: 'approved',
        updatedAt: now(),
        resolution: {
          by: 'human',
          at: now(),
          uid: by.uid,
          changes: change?.changes ?? [],
          ...(decisionId ? { decisionId } : {}),
        },
      };
      await this.audit(approved, 'approved', {
        uid: by.uid,
        changes: change?.changes ?? [],
        ...(decisionId ? { decisionId } : {}),
      });
      return approved;
    });
  }

  async reject(id: string, by: { uid: number; reason: string }): Promise<ProposalRecord> {
    return this.store.update(id, async (rec) => {
      if (rec.state !== 'pending')
        throw proposalErrors.create('PROPOSAL_ALREADY_DECIDED', `proposal ${id} is already ${rec.state}`, {
          state: rec.state,
        });
      const at = new Date(this.clock.now()).toISOString();
      const rejected: ProposalRecord = {
        ...rec,
        state: 'rejected',
        updatedAt: at,
        resolution: { by: 'human', at, uid: by.uid, reason: by.reason },
      };
      await this.audit(rejected, 'rejected', { by: 'human', uid: by.uid, reason: by.reason });
      return rejected;
    });
  }

  /**
   * Where a proposed destination stands: one egress decision per method × path it names (the first that is not an
   * allow decides: a ceiling first), or one for the host and port. Method and path go to the door only when it knows paths.
   */
  private async standing(
    sandbox: string | undefined,
    p: {
      host: string;
      port: number;
      methods?: readonly string[] | undefined;
      paths?: readonly string[] | undefined;
    },
  ): Promise<{ decision: PolicyDecision; standing: Standing }> {
    const host = p.host.replace(/^\*\./, '');
    const withPath = 'path' in EgressRequest.shape;
    const methods = p.methods?.length ? p.methods : p.paths?.length ? ['GET'] : [undefined];
    const paths = withPath && p.paths?.length ? p.paths : [undefined];
    let first: { decision: PolicyDecision; standing: Standing } | undefined;
    for (const method of methods)
      for (const path of paths) {
        const decision = await this.deps.policy.decide(
          'egress',
          { host, port: p.port, ...(method ? { method } : {}), ...(path ? { path } : {}) },
          sandbox,
        );
        const standing = standingOf(decision);
        // A ceiling anywhere decides; else the first the project refuses; else allowed.
        if (standing.kind === 'ceiling') return { decision, standing };
        if (!first || (first.standing.kind === 'allowed' && standing.kind === 'project'))
          first = { decision, standing };
      }
    return first!;
  }

  private async audit(rec: ProposalRecord, event: string, data: Record<string, unknown>): Promise<void> {
    await this.deps.audit.append({
      kind: 'proposal',
      id: rec.id,
      sandbox: rec.sandbox,
      sandboxId: rec.sandboxId,
      data: {
        event,
        host: rec.host,
        port: rec.port,
        ...(rec.methods ? { methods: rec.methods } : {}),
        ...(rec.paths ? { paths: rec.paths } : {}),
        state: rec.state,
        ...data,
      },
    });
  }

  // ---- learn mode ----

  /**
   * Starts learning a running sandbox's egress for `seconds`: permissive but logged. Until the run ends the
   * sandbox's egress renders from its org/team ceiling (hosts, ports and method/path rules of those layers; the
   * project file's narrowing lifted; never what the org or team forbid) and every decision is recorded; at the end
   * its policy is rendered again, and if that fails the sandbox is stopped (never left widened). Only when the org
   * policy says `egress.allow_learning := true`, no team layer says false, the team is not a production team unless
   * its own layer says true, and the sandbox's profile has `egressLearning: true`.
   */
  async startLearning(name: string, seconds: number): Promise<LearnReport> {
    const sandbox = [...this.known.values()].find((k) => k.name === name);
    if (!sandbox) throw proposalErrors.create('LEARN_NOT_ENFORCED', `sandbox ${name} is not running`);
    if (this.learns.has(name))
      throw proposalErrors.create('LEARN_ALREADY_RUNNING', `sandbox ${name} is already learning`);
    const egress = this.deps.egress;
    if (!egress?.enforces(sandbox.id))
      throw proposalErrors.create(
        'LEARN_NOT_ENFORCED',
        `sandbox ${name} has no enforced egress to learn from`,
      );
    await this.requireLearningAllowed(sandbox);
    const recorder = new LearnRecorder(sandbox.id);
    const startedAt = this.clock.now();
    const run: LearnRun = {
      sandbox,
      recorder,
      startedAt,
      until: startedAt + seconds * 1000,
      timer: setTimeout(() => void this.stopLearning(name, undefined), seconds * 1000),
      unsubscribe: egress.observe((d) => void recorder.record(d)),
    };
    run.timer.unref();
    this.learns.set(name, run);
    try {
      await egress.learnCeiling(sandbox.id, this.deps.policy.ceiling(name));
    } catch (err) {
      // Not started: the policy goes back in force (or the sandbox stops), and the caller hears why.
      clearTimeout(run.timer);
      run.unsubscribe();
      run.stopping = true;
      await this.narrow(run, false);
      this.learns.delete(name);
      throw err;
    }
    run.started = true;
    this.finished.delete(name);
    await this.deps.audit.append({
      kind: 'learn',
      sandbox: name,
      sandboxId: sandbox.id,
      data: { event: 'started', seconds },
    });
    return this.learnReport(run, 'running');
  }

  /** The running or last finished learn run of a sandbox. */
  learning(name: string): LearnReport {
    const run = this.learns.get(name);
    if (run?.started) return this.learnReport(run, 'running');
    const done = this.finished.get(name);
    if (!done) throw proposalErrors.create('LEARN_NOT_FOUND', `no learn run for sandbox ${name}`);
    return done;
  }

  private async requireLearningAllowed(sandbox: Known): Promise<void> {
    const refusal = this.learningRefusal(sandbox);
    const profile = await loadProfile(this.deps.config.profilesDir, sandbox.profile).catch(() => undefined);
    const why =
      refusal ??
      (profile?.egressLearning !== true
        ? `profile ${sandbox.profile} does not set egressLearning: true`
        : undefined);
    if (why)
      throw proposalErrors.create(
        'LEARN_NOT_ALLOWED',
        `learn mode is not allowed for ${sandbox.name}: ${why}`,
      );
  }

  /** Why the org/team layers do not allow learning for this sandbox now, or undefined when they do. */
  private learningRefusal(sandbox: Known): string | undefined {
    const values = this.deps.policy.layerValues(sandbox.name, 'egress', 'allow_learning');
    const org = values.find((v) => v.layer === 'org')?.value;
    const teamLayer = values.find((v) => v.layer.startsWith('team'));
    const team = this.deps.policy.team(sandbox.name) ?? '';
    if (org !== true) return 'the org policy does not set egress.allow_learning := true';
    if (teamLayer && teamLayer.value !== true)
      return `${teamLayer.layer} sets egress.allow_learning to false`;
    if (/^prod(uction)?([-_.].*)?$/i.test(team) && teamLayer?.value !== true)
      return `team ${team} is a production team (its own layer must set egress.allow_learning := true)`;
    return undefined;
  }

  /**
   * A policy change of a learning sandbox: the egress layer has just rendered its policy alone; widen it to the
   * ceiling as it is now, or end the run when learning is no longer allowed or the ceiling cannot be applied.
   */
  private async relearn(name: string): Promise<void> {
    const run = this.learns.get(name);
    if (!run?.started || run.stopping) return;
    let refusal: string | undefined;
    try {
      refusal = this.learningRefusal(run.sandbox);
      if (!refusal) await this.deps.egress?.learnCeiling(run.sandbox.id, this.deps.policy.ceiling(name));
    } catch (err) {
      refusal = `the changed policy could not be applied for learning: ${messageOf(err)}`;
    }
    if (refusal) await this.stopLearning(name, `the run ended early: ${refusal}`);
  }

  /**
   * Renders the sandbox's policy again. If that fails the sandbox must not stay widened: its container is stopped
   * (unless it is already going away). Returns the failure, if any.
   */
  private async narrow(run: LearnRun, sandboxGone: boolean): Promise<string | undefined> {
    try {
      await this.deps.egress?.learnCeiling(run.sandbox.id, undefined);
      return undefined;
    } catch (err) {
      const why = messageOf(err);
      if (sandboxGone) return why;
      this.logger.error(
        { sandbox: run.sandbox.name, err: why },
        'learn: the sandbox policy cannot be re-applied; stopping the sandbox',
      );
      try {
        const containers = await this.deps.runtime.listManaged(this.deps.daemonId);
        const own = containers.find((c) => c.sandboxId === run.sandbox.id);
        if (own) await this.deps.runtime.stopContainer(own.containerId);
      } catch (stopErr) {
        this.logger.error(
          { sandbox: run.sandbox.name, err: messageOf(stopErr) },
          'learn: cannot stop the sandbox',
        );
      }
      return `${why} (the sandbox was stopped rather than left widened)`;
    }
  }

  private async stopLearning(
    name: string,
    error: string | undefined,
    opts: { sandboxGone?: boolean } = {},
  ): Promise<void> {
    const run = this.learns.get(name);
    if (!run || run.stopping) return;
    // Still listed (as running) until its report is ready: a poll in between must not find nothing.
    run.stopping = true;
    clearTimeout(run.timer);
    run.unsubscribe();
    const narrowFailed = await this.narrow(run, opts.sandboxGone === true);
    const failure =
      narrowFailed !== undefined ? `the sandbox policy could not be re-applied: ${narrowFailed}` : error;
    let report: LearnReport;
    try {
      report = failure
        ? { ...this.learnReport(run, 'failed'), error: failure }
        : await this.finishReport(run);
    } catch (err) {
      report = { ...this.learnReport(run, 'failed'), error: messageOf(err) };
    }
    this.finished.set(name, report);
    this.learns.delete(name);
    await this.deps.audit
      .append({
        kind: 'learn',
        sandbox: name,
        sandboxId: run.sandbox.id,
        data: {
          event: 'finished',
          state: report.state,
          hosts: report.hosts.map((h) => h.host),
          ...(report.error ? { error: report.error } : {}),
        },
      })
      .catch((err: unknown) => this.logger.warn({ err: messageOf(err) }, 'learn: cannot audit'));
  }

  /**
   * The run's report: every host used, each decided again under the sandbox's full policy (project included) on
   * every port it was used on — allowed already, refused only by the project (the proposed file adds it), or
   * forbidden by the org/team (reported, never proposed).
   */
  private async finishReport(run: LearnRun): Promise<LearnReport> {
    const hosts: LearnedHost[] = [];
    for (const h of run.recorder.report(() => undefined)) {
      let allowedBefore = true;
      let forbiddenBy: string | undefined;
      for (const port of h.ports.length > 0 ? h.ports : [443]) {
        const s = standingOf(
          await this.deps.policy.decide('egress', { host: h.host, port }, run.sandbox.name),
        );
        if (s.kind === 'ceiling') {
          forbiddenBy = `${s.layer}${s.rule ? ` (${s.rule})` : ''}: ${s.reason}`;
          break;
        }
        if (s.kind === 'project') allowedBefore = false;
      }
      const { forbiddenBy: _seen, ...rest } = h;
      hosts.push({
        ...rest,
        allowedBefore: allowedBefore && forbiddenBy === undefined,
        ...(forbiddenBy ? { forbiddenBy } : {}),
      });
    }
    const base = this.learnReport(run, 'done');
    if (run.sandbox.ephemeral) return { ...base, hosts };
    const current = await new FilePolicySource('/').readProject(run.sandbox.path);
    const { proposed, diff } = proposeProjectPolicy(current?.text, hosts, run.recorder.requests());
    return { ...base, hosts, proposed, diff };
  }

  private learnReport(run: LearnRun, state: LearnReport['state']): LearnReport {
    return {
      sandbox: run.sandbox.name,
      state,
      startedAt: new Date(run.startedAt).toISOString(),
      until: new Date(run.until).toISOString(),
      hosts: run.recorder.report(() => undefined),
    };
  }
}

function automatic(standing: Standing, decisionId: string, at: string): ProposalRecord['resolution'] {
  if (standing.kind === 'allowed')
    return { by: 'policy', at, decisionId, reason: 'the policy in force already allows this destination' };
  if (standing.kind === 'ceiling')
    return {
      by: 'ceiling',
      at,
      decisionId,
      layer: standing.layer,
      reason: `forbidden by ${standing.layer}: ${standing.reason}`,
      ...(standing.rule ? { rule: standing.rule } : {}),
    };
  return undefined;
}
