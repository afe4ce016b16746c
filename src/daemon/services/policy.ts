import { join } from 'node:path';
import type { AuditLog } from '../../audit/index.js';
import { PACKAGE_ROOT, type DaemonConfig } from '../../config/index.js';
import {
  EngineBackend,
  FilePolicySource,
  PROJECT_POLICY_DIR,
  PolicyConfig,
  PolicyStore,
  PolicyWatcher,
  policyErrors,
  type EffectiveEgress,
  type PolicyChange,
} from '../../policy/index.js';
import type {
  Clock,
  DoctorCheck,
  Logger,
  PolicyDecision,
  PolicyDoor,
  PolicyError,
  PolicyShowReport,
} from '../../shared/index.js';
import {
  isAiboxError,
  messageOf,
  PolicyDecision as PolicyDecisionSchema,
  systemClock,
} from '../../shared/index.js';
import type { SandboxHook } from './hooks.js';

export interface PolicyServiceDeps {
  config: DaemonConfig;
  audit: AuditLog;
  logger: Logger;
  clock?: Clock;
}

const RECENT_DECISIONS = 2000;

/** A layer applying a sandbox's changed policy; throwing refuses it (the layer's previous value stays in force). */
export type LayerListener = (change: PolicyChange) => void | Promise<void>;

/**
 * The daemon's policy: the store (org -> team -> project), the watcher (hot reload), decisions written to the audit
 * log, and the sandbox hook that attaches a sandbox's policy before it starts (fail closed: a sandbox never runs
 * under a policy that did not load). Other layers read effective values here and subscribe with `onChange`.
 */
export class PolicyService {
  private readonly recent = new Map<string, PolicyDecision>();
  private watcher: PolicyWatcher | undefined;
  private readonly layers: { door: PolicyDoor; layer: string; apply: LayerListener }[] = [];
  /**
   * Per sandbox, the doors whose last change a layer refused: the value that layer still enforces and why. `show`
   * reports these, not the refused value: what it prints is what is in force.
   */
  private readonly refused = new Map<string, Map<string, { value: unknown; error: PolicyError }>>();
  /** Per sandbox, the effective values every layer last applied (the "before" of the next change). */
  private readonly enforced = new Map<string, Record<string, unknown>>();

  private constructor(
    readonly store: PolicyStore,
    readonly config: PolicyConfig,
    readonly repoDir: string,
    private readonly audit: AuditLog,
    private readonly logger: Logger,
  ) {}

  static async create(deps: PolicyServiceDeps): Promise<PolicyService> {
    const config = PolicyConfig.parse(deps.config.policy ?? {});
    const repoDir = config.repo || join(PACKAGE_ROOT, 'policies');
    const logger = deps.logger.child({ svc: 'policy' });
    // The sink needs the service and the service needs the store: bind late.
    const late: { service?: PolicyService } = {};
    const store = new PolicyStore({
      source: new FilePolicySource(repoDir),
      backend: new EngineBackend(),
      sink: { record: (d) => late.service!.record(d) },
      logger,
      clock: deps.clock ?? systemClock,
      ...(config.defaultTeam !== undefined ? { defaultTeam: config.defaultTeam } : {}),
      onProjectRefused: (sandbox, error) =>
        deps.audit
          .append({
            kind: 'policy',
            sandbox: sandbox.name,
            sandboxId: sandbox.id,
            data: { event: 'project-refused', code: error.code, error: error.message },
          })
          .then(() => undefined),
    });
    const service = new PolicyService(store, config, repoDir, deps.audit, logger);
    late.service = service;
    store.onChange((c) => service.applyChange(c));
    const loaded = await store.reloadRepo();
    await deps.audit.append({
      kind: 'policy',
      data: {
        event: loaded.ok ? 'loaded' : 'load-failed',
        repo: repoDir,
        revision: store.revision,
        error: loaded.error,
      },
    });
    store.onChange((c) =>
      deps.audit
        .append({
          kind: 'policy',
          sandbox: c.sandbox,
          sandboxId: c.sandboxId,
          data: { event: 'changed', revision: c.revision },
        })
        .then(() => undefined),
    );
    if (config.watch) {
      service.watcher = new PolicyWatcher({ store, repoDir, logger, debounceMs: config.debounceMs });
      service.watcher.start();
    }
    return service;
  }

  /** Attaches at prepare (before the container exists), detaches at stop; the layer every other hook builds on. */
  hook(): SandboxHook {
    return {
      layer: 'policy',
      prepare: async (ctx) => {
        const set = await this.store.attach({
          id: ctx.id,
          name: ctx.name,
          path: ctx.path,
          ...(ctx.team !== undefined ? { team: ctx.team } : {}),
        });
        this.enforced.set(ctx.name, { ...set.effective });
        this.refused.delete(ctx.name);
        // A sandbox without a host folder mounts no host path (its workspace is a tmpfs the daemon makes).
        if (!ctx.ephemeral) {
          await this.authorize('mounts', { source: ctx.path, target: '/workspace', mode: 'rw' }, ctx.name);
          this.watcher?.watchProject(ctx.name, ctx.path);
        }
        // The project layer is the host user's: read-only inside. Without aibox/ at start nothing is created;
        // a folder the agent makes is not read while this sandbox runs (store.reloadProject).
        return this.store.hasProjectDir(ctx.name) ? { readOnlyPaths: [PROJECT_POLICY_DIR] } : {};
      },
      adopt: async (sb) => {
        const set = await this.store.attach({
          id: sb.id,
          name: sb.name,
          path: sb.path,
          ...(sb.team !== undefined ? { team: sb.team } : {}),
        });
        this.enforced.set(sb.name, { ...set.effective });
        this.refused.delete(sb.name);
        if (!sb.ephemeral) this.watcher?.watchProject(sb.name, sb.path);
      },
      stop: (ctx) => {
        this.watcher?.unwatchProject(ctx.name);
        this.store.detach(ctx.name);
        this.enforced.delete(ctx.name);
        this.refused.delete(ctx.name);
        return Promise.resolve();
      },
      close: () => Promise.resolve(this.close()),
    };
  }

  /**
   * The enforcement layer `layer` applies `door` of running sandboxes on every policy change. A listener that
   * throws refuses the change: the layer keeps its previous value in force, and `show` says so with the error.
   */
  onChange(door: PolicyDoor, layer: string, apply: LayerListener): () => void {
    const entry = { door, layer, apply };
    this.layers.push(entry);
    return () => {
      const i = this.layers.indexOf(entry);
      if (i >= 0) this.layers.splice(i, 1);
    };
  }

  /** Hands a sandbox's new effective policy to every layer; records what each one refused. */
  private async applyChange(change: PolicyChange): Promise<void> {
    const before = this.enforced.get(change.sandbox) ?? {};
    const after: Record<string, unknown> = { ...change.effective };
    const refusals =
      this.refused.get(change.sandbox) ?? new Map<string, { value: unknown; error: PolicyError }>();
    for (const l of this.layers) {
      try {
        await l.apply(change);
        refusals.delete(l.door);
      } catch (err) {
        const kept = refusals.get(l.door)?.value ?? before[l.door];
        after[l.door] = kept;
        const error: PolicyError = {
          scope: `sandbox:${change.sandbox}`,
          code: isAiboxError(err) ? err.code : 'POLICY_LAYER_REFUSED',
          message: `${l.layer} refused revision ${change.revision} of the ${l.door} policy (the previous one stays in force): ${messageOf(err)}`,
          hint: isAiboxError(err)
            ? err.hint
            : 'Fix the policy edit; the sandbox keeps the policy shown until a change applies.',
          at: new Date().toISOString(),
        };
        refusals.set(l.door, { value: kept, error });
        this.logger.error(
          { sandbox: change.sandbox, layer: l.layer, err: messageOf(err) },
          'policy change refused',
        );
        await this.audit
          .append({
            kind: 'policy',
            sandbox: change.sandbox,
            sandboxId: change.sandboxId,
            data: { event: 'layer-refused', layer: l.layer, door: l.door, error: error.message },
          })
          .catch((e: unknown) => this.logger.error({ err: messageOf(e) }, 'cannot audit a refused change'));
      }
    }
    this.enforced.set(change.sandbox, after);
    if (refusals.size > 0) this.refused.set(change.sandbox, refusals);
    else this.refused.delete(change.sandbox);
  }

  decide(door: PolicyDoor, request: unknown, sandbox?: string): Promise<PolicyDecision> {
    return this.store.decide(door, request, sandbox);
  }

  /** Decides and throws POLICY_DENIED (403, carrying the decision id) unless allowed or approval-bound. */
  async authorize(door: PolicyDoor, request: unknown, sandbox?: string): Promise<PolicyDecision> {
    const d = await this.decide(door, request, sandbox);
    if (d.outcome === 'deny') {
      throw policyErrors.create(
        'POLICY_DENIED',
        `${d.reason} (decision ${d.id}: aibox policy explain --log-entry ${d.id})`,
        {
          decision: d.id,
          door,
        },
      );
    }
    return d;
  }

  /**
   * Records a decision another enforcement point made on its own (the egress proxy or DNS, from the rendered
   * allowlist) under that point's id, with the policy's per-layer explanation of the same request, so
   * `aibox policy explain --log-entry <id from a 403 body>` answers for it too.
   */
  async recordEnforced(e: {
    id: string;
    door: PolicyDoor;
    sandbox?: string;
    request: Record<string, unknown>;
    outcome: 'allow' | 'deny';
    /** Who enforced and why, e.g. `proxy: EGRESS_DOMAIN_NOT_ALLOWED`. */
    enforcedBy: string;
  }): Promise<PolicyDecision> {
    let explained: PolicyDecision | undefined;
    try {
      explained = this.store.evaluate(e.door, e.request, e.sandbox);
    } catch (err) {
      this.logger.debug(
        { err: messageOf(err), decision: e.id },
        'enforced decision could not be explained by policy',
      );
    }
    const agrees = explained === undefined || explained.outcome === e.outcome;
    const d: PolicyDecision = {
      id: e.id,
      ts: explained?.ts ?? new Date().toISOString(),
      door: e.door,
      ...(e.sandbox !== undefined ? { sandbox: e.sandbox } : {}),
      request: e.request,
      outcome: e.outcome,
      reason:
        `${e.enforcedBy}` +
        (explained
          ? agrees
            ? ` (${explained.reason})`
            : ` (the policy in force now says ${explained.outcome}: ${explained.reason})`
          : ''),
      layers: explained?.layers ?? [],
      effective: explained?.effective,
      revision: explained?.revision ?? this.store.revision ?? 'none',
    };
    await this.record(d);
    return d;
  }

  /** A recorded decision, from memory when recent, else from the audit log. */
  async explain(id: string): Promise<PolicyDecision> {
    const hit = this.recent.get(id);
    if (hit) return hit;
    const rec = await this.audit.find(id);
    const parsed = rec?.kind === 'decision' ? PolicyDecisionSchema.safeParse(rec.data) : undefined;
    if (!parsed?.success) {
      throw policyErrors.create('POLICY_DECISION_NOT_FOUND', `no decision ${id} in the audit log`, { id });
    }
    return parsed.data;
  }

  /** The effective policy as enforced: a door a layer refused to change shows the value still in force. */
  show(sandbox?: string): PolicyShowReport {
    const report = this.store.show(sandbox);
    const refusals = sandbox !== undefined ? this.refused.get(sandbox) : undefined;
    if (!refusals) return report;
    const doors = { ...report.doors };
    for (const [door, r] of refusals) doors[door] = r.value;
    return { ...report, doors, errors: [...report.errors, ...[...refusals.values()].map((r) => r.error)] };
  }

  /** `aibox doctor`: is a policy in force, and is any edit waiting to be fixed (the last good one applies)? */
  doctorChecks(): DoctorCheck[] {
    const problems = this.store.problems();
    const revision = this.store.revision;
    const checks: DoctorCheck[] = [
      {
        name: 'policy loaded',
        layer: 'policy',
        ok: revision !== undefined,
        detail:
          revision !== undefined
            ? `revision ${revision} from ${this.repoDir}`
            : `nothing valid in ${this.repoDir}`,
        ...(revision === undefined
          ? { fix: problems[0]?.hint ?? 'Fix the policy repo (aibox policy show).' }
          : {}),
      },
    ];
    for (const p of problems) {
      checks.push({
        name: `policy ${p.scope}`,
        layer: 'policy',
        ok: false,
        detail: `${p.code}: ${p.message}${revision !== undefined ? ' (the last good policy stays in force)' : ''}`,
        fix: p.hint,
      });
    }
    return checks;
  }

  /** The effective egress allowlist of a sandbox, for the egress layer to render. */
  egress(sandbox: string): EffectiveEgress {
    return this.store.policySet(sandbox).effective.egress;
  }

  async reload(): Promise<{ ok: boolean; error?: unknown }> {
    return this.store.reloadRepo();
  }

  /** Resolves once the watcher's pending reloads ran (tests, benchmarks). */
  async settled(): Promise<void> {
    await this.watcher?.idle();
  }

  close(): void {
    this.watcher?.close();
  }

  private async record(d: PolicyDecision): Promise<void> {
    this.recent.set(d.id, d);
    if (this.recent.size > RECENT_DECISIONS) this.recent.delete(this.recent.keys().next().value!);
    try {
      await this.audit.append({
        kind: 'decision',
        id: d.id,
        ...(d.sandbox ? { sandbox: d.sandbox } : {}),
        data: d,
      });
    } catch (err) {
      this.logger.error({ err: messageOf(err), decision: d.id }, 'could not record a decision');
      throw err;
    }
  }
}

/**
 * The effective egress of a sandbox in the egress module's input terms (`EgressPolicyInput.allow` and `.tcp`); the
 * egress adapter adds its daemon-level settings (upstream proxy, static DNS hosts, host exemptions) and validates.
 */
export function egressPolicyInput(e: EffectiveEgress): {
  allow: { host: string; ports: number[] }[];
  tcp: { host: string; port: number }[];
} {
  return {
    allow: e.allowDomains.map((host) => ({ host, ports: e.allowPorts })),
    tcp: e.allowTcp.map((t) => {
      const i = t.lastIndexOf(':');
      return { host: t.slice(0, i), port: Number(t.slice(i + 1)) };
    }),
  };
}
