import { isDeepStrictEqual } from 'node:util';
import type {
  Clock,
  Logger,
  PolicyDecision,
  PolicyDoor,
  PolicyError,
  PolicyShowReport,
} from '../shared/index.js';
import { isAiboxError, messageOf, newId } from '../shared/index.js';
import {
  compileRepo,
  composeSet,
  teamOf,
  describeConflict,
  type CompiledRepo,
  type PolicySet,
  type RepoSources,
} from './compile.js';
import { DOORS } from './doors/index.js';
import { policyErrors } from './errors.js';
import { PROJECT_POLICY_DIR, PROJECT_POLICY_FILE, ProjectLayer } from './project.js';
import type { RegoBackend } from './rego-layer.js';
import { combine, type Conflict } from './types.js';

/** A project's aibox/ folder as read: the file's text (undefined when the folder holds none). */
export interface ProjectSource {
  file: string;
  text: string | undefined;
  /** Identity of the aibox/ folder (device:inode) when the source can tell. */
  dirId?: string;
}

/** Where policy text comes from; `loader.ts` implements it over the file system. */
export interface PolicySource {
  readRepo(): Promise<RepoSources>;
  /** The project's aibox/ folder and policy file, or undefined when the project has no aibox/ folder. */
  readProject(projectPath: string): Promise<ProjectSource | undefined>;
}

/** Where decisions go: the daemon appends them to the audit log. Resolves once recorded. */
export interface DecisionSink {
  record(decision: PolicyDecision): Promise<void>;
}

export interface SandboxRef {
  id: string;
  name: string;
  /** Absolute host path of the project folder. */
  path: string;
  /**
   * The team layer chosen by the daemon for a sandbox with no project (a session: its token's team); when unset the
   * org's project → team mapping (or the default team) decides.
   */
  team?: string;
}

export interface PolicyChange {
  sandbox: string;
  sandboxId: string;
  revision: string;
  effective: PolicySet['effective'];
}
export type ChangeListener = (change: PolicyChange) => void | Promise<void>;

export interface PolicyStoreOptions {
  source: PolicySource;
  backend: RegoBackend;
  sink: DecisionSink;
  logger: Logger;
  clock: Clock;
  /** Team layer for projects the org's project → team mapping does not name. */
  defaultTeam?: string;
  /** Told of every project reload that was refused (the daemon audits it). */
  onProjectRefused?: (sandbox: SandboxRef, error: PolicyError) => void | Promise<void>;
}

interface Attached {
  ref: SandboxRef;
  set: PolicySet;
  project: ProjectLayer;
  /**
   * The aibox/ folder as found at start (device:inode), or null when there was none. Only a folder present at
   * start is mounted read-only in the sandbox, so only that one is re-read on edits (by the host user).
   */
  projectDir: string | null;
}

/**
 * Holds the policy in force: the compiled repo and one composed set per running sandbox. A reload that fails keeps
 * the last good policy in force and records the error (for `aibox doctor`, `aibox policy show` and the log);
 * a reload that succeeds notifies listeners of every sandbox whose effective policy changed.
 */
export class PolicyStore {
  private repo: CompiledRepo | undefined;
  private loadedAt: string | undefined;
  private readonly sandboxes = new Map<string, Attached>();
  private readonly errors = new Map<string, PolicyError>();
  private readonly listeners = new Set<ChangeListener>();
  private baseline: PolicySet | undefined;

  constructor(private readonly opts: PolicyStoreOptions) {}

  /** Loads (or reloads) the policy repo. Never throws: on failure the last good repo stays and the error is kept. */
  async reloadRepo(): Promise<{ ok: boolean; error?: PolicyError }> {
    let repo: CompiledRepo;
    let baseline: PolicySet;
    try {
      repo = compileRepo(await this.opts.source.readRepo(), this.opts.backend, this.repo);
      baseline = composeSet(repo, ProjectLayer.empty(), this.opts.defaultTeam);
    } catch (err) {
      const error = this.keepError('repo', err);
      this.opts.logger.error(
        { code: error.code, err: error.message, revision: this.repo?.revision },
        this.repo ? 'policy reload failed: the last good policy stays in force' : 'policy load failed',
      );
      return { ok: false, error };
    }
    // Recompose every sandbox against the new repo before swapping anything: all or nothing per sandbox.
    const next = new Map<string, Attached>();
    for (const [name, a] of this.sandboxes) {
      try {
        // The repo changed, not the project: a tightened higher layer applies even where the project now asks
        // for more (refusing it would keep the looser policy in force); the leftover is reported.
        const set = composeSet(repo, a.project, this.teamFor(repo, a.ref), {
          tolerateStale: true,
        });
        next.set(name, { ...a, set });
        this.errors.delete(`sandbox:${name}`);
        if (set.stale[0]) this.keepStale(`sandbox:${name}`, set.stale);
      } catch (err) {
        const error = this.keepError(`sandbox:${name}`, err);
        this.opts.logger.error(
          { sandbox: name, code: error.code, err: error.message },
          'policy no longer composes for this sandbox: its last good policy stays in force',
        );
      }
    }
    const changed = this.repo?.revision !== repo.revision;
    this.repo = repo;
    this.baseline = baseline;
    this.loadedAt = new Date(this.opts.clock.now()).toISOString();
    this.errors.delete('repo');
    for (const scope of [...this.errors.keys()]) if (scope.startsWith('team:')) this.errors.delete(scope);
    for (const c of repo.stale) this.keepStale(c.layer, [c]);
    if (changed) this.opts.logger.info({ revision: repo.revision }, 'policy loaded');
    for (const [name, a] of next) await this.swap(name, a);
    return { ok: true };
  }

  /**
   * Composes the policy of a sandbox about to start. Throws (fail closed) when no policy is loaded, the project
   * file is invalid or loosens a higher layer: the sandbox must not start under a policy nobody can see.
   */
  async attach(ref: SandboxRef): Promise<PolicySet> {
    const repo = this.requireRepo();
    const read = await this.opts.source.readProject(ref.path);
    const project = parseProject(read);
    const set = composeSet(repo, project, this.teamFor(repo, ref));
    this.sandboxes.set(ref.name, { ref, set, project, projectDir: read ? (read.dirId ?? '') : null });
    this.errors.delete(`sandbox:${ref.name}`);
    return set;
  }

  /** Whether the sandbox's project had an aibox/ folder at start (it is then mounted read-only). */
  hasProjectDir(name: string): boolean {
    const dir = this.sandboxes.get(name)?.projectDir;
    return dir !== undefined && dir !== null;
  }

  detach(name: string): void {
    this.sandboxes.delete(name);
    this.errors.delete(`sandbox:${name}`);
  }

  /**
   * Re-reads one sandbox's project file; on failure its last good policy stays. Only the aibox/ folder that was
   * there at start is read (it is read-only inside the sandbox, so its edits are the host user's): a folder that
   * appeared or was swapped while the sandbox runs may be the agent's and waits for the next start.
   */
  async reloadProject(name: string): Promise<{ ok: boolean; error?: PolicyError }> {
    const a = this.sandboxes.get(name);
    if (!a || !this.repo) return { ok: false };
    try {
      const read = await this.opts.source.readProject(a.ref.path);
      if (a.projectDir === null) {
        if (!read) return { ok: true };
        throw policyErrors.create(
          'POLICY_PROJECT_PENDING',
          `${PROJECT_POLICY_DIR}/ appeared after sandbox ${name} started: it applies at the next start`,
          { file: PROJECT_POLICY_FILE },
        );
      }
      if (!read || (read.dirId !== undefined && read.dirId !== a.projectDir && a.projectDir !== '')) {
        throw policyErrors.create(
          'POLICY_PROJECT_UNSAFE',
          `${PROJECT_POLICY_DIR}/ was removed or replaced since sandbox ${name} started: the policy read at start stays in force until the next start`,
          { file: PROJECT_POLICY_FILE },
        );
      }
      const project = parseProject(read);
      const set = composeSet(this.repo, project, this.teamFor(this.repo, a.ref));
      this.errors.delete(`sandbox:${name}`);
      await this.swap(name, { ...a, project, set });
      return { ok: true };
    } catch (err) {
      const before = this.errors.get(`sandbox:${name}`);
      const error = this.keepError(`sandbox:${name}`, err);
      // The agent can touch aibox/ as often as it likes: log and audit a refusal once, not once per write.
      if (before?.code === error.code && before.message === error.message) return { ok: false, error };
      this.opts.logger.error(
        { sandbox: name, code: error.code, err: error.message },
        'project policy reload refused: the last good policy stays in force',
      );
      try {
        await this.opts.onProjectRefused?.(a.ref, error);
      } catch (e) {
        this.opts.logger.error({ sandbox: name, err: messageOf(e) }, 'could not record a refused reload');
      }
      return { ok: false, error };
    }
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The composed set of a sandbox (or the org + default team baseline when none is given). */
  policySet(sandbox?: string): PolicySet {
    if (sandbox !== undefined) {
      const a = this.sandboxes.get(sandbox);
      if (!a)
        throw policyErrors.create('POLICY_NOT_LOADED', `no policy is attached to sandbox ${sandbox}`, {
          sandbox,
        });
      return a.set;
    }
    this.requireRepo();
    return this.baseline!;
  }

  /** Decides without recording (benchmarks, dry runs). */
  evaluate(door: PolicyDoor, request: unknown, sandbox?: string): PolicyDecision {
    const d = DOORS[door];
    const parsed = d.request.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw policyErrors.create(
        'POLICY_BAD_REQUEST',
        `bad ${door} request: ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const set = this.policySet(sandbox);
    const req = parsed.data as Record<string, unknown>;
    const input = sandbox !== undefined ? { ...req, sandbox: { name: sandbox } } : req;
    const layers = (d.verdicts as (r: unknown, l: PolicySet['layers']) => PolicyDecision['layers'])(
      input,
      set.layers,
    );
    const outcome = combine(layers);
    const deciding =
      layers.find((l) => l.verdict === outcome && outcome !== 'allow') ??
      (outcome === 'deny' ? undefined : layers.find((l) => l.verdict === outcome));
    return {
      id: newId('dec'),
      ts: new Date(this.opts.clock.now()).toISOString(),
      door,
      ...(sandbox !== undefined ? { sandbox } : {}),
      request: req,
      outcome,
      reason:
        (deciding !== undefined
          ? `${deciding.layer}: ${deciding.reason}`
          : 'no layer allows this request (deny by default)') + (d.note ? ` [${d.note}]` : ''),
      layers,
      effective: set.effective[door],
      revision: set.revision,
    };
  }

  /** Decides and records the decision; the caller acts only after this resolves. */
  async decide(door: PolicyDoor, request: unknown, sandbox?: string): Promise<PolicyDecision> {
    const decision = this.evaluate(door, request, sandbox);
    await this.opts.sink.record(decision);
    return decision;
  }

  show(sandbox?: string): PolicyShowReport {
    const errors = [...this.errors.values()].filter(
      (e) => sandbox === undefined || !e.scope.startsWith('sandbox:') || e.scope === `sandbox:${sandbox}`,
    );
    if (!this.repo) return { layers: [], doors: {}, errors, ...(sandbox ? { sandbox } : {}) };
    const set = this.policySet(sandbox);
    return {
      ...(sandbox !== undefined ? { sandbox } : {}),
      revision: set.revision,
      ...(this.loadedAt !== undefined ? { loadedAt: this.loadedAt } : {}),
      ...(set.team !== undefined ? { team: set.team } : {}),
      layers: set.layers.map((l) => l.layer),
      doors: { ...set.effective },
      errors,
    };
  }

  /** Load errors in force (for `aibox doctor`). */
  problems(): PolicyError[] {
    return [...this.errors.values()];
  }

  get revision(): string | undefined {
    return this.repo?.revision;
  }

  attached(): SandboxRef[] {
    return [...this.sandboxes.values()].map((a) => a.ref);
  }

  private async swap(name: string, next: Attached): Promise<void> {
    const prev = this.sandboxes.get(name);
    this.sandboxes.set(name, next);
    if (prev && isDeepStrictEqual(prev.set.effective, next.set.effective)) return;
    const change: PolicyChange = {
      sandbox: name,
      sandboxId: next.ref.id,
      revision: next.set.revision,
      effective: next.set.effective,
    };
    for (const l of this.listeners) {
      try {
        await l(change);
      } catch (err) {
        this.opts.logger.error({ sandbox: name, err: messageOf(err) }, 'policy change listener failed');
      }
    }
  }

  private teamFor(repo: CompiledRepo, ref: SandboxRef): string | undefined {
    return ref.team ?? teamOf(repo, ref.path, this.opts.defaultTeam);
  }

  private requireRepo(): CompiledRepo {
    if (this.repo) return this.repo;
    const pending = this.errors.get('repo');
    throw policyErrors.create(
      'POLICY_NOT_LOADED',
      pending ? `no valid policy is loaded: ${pending.message}` : 'no policy has been loaded yet',
      pending ? { cause: pending } : undefined,
    );
  }

  private keepStale(scope: string, conflicts: Conflict[]): void {
    const c = conflicts[0]!;
    this.keepError(
      scope,
      policyErrors.create(
        'POLICY_LOOSENING',
        `${describeConflict(c)} (a higher layer tightened: the intersection applies until this value is removed)`,
        {
          file: c.loc.at?.replace(/:\d+$/, ''),
          key: c.key,
          value: c.value,
          policyLayer: c.layer,
          conflictsWith: c.against.layer,
        },
      ),
    );
  }

  private keepError(scope: string, err: unknown): PolicyError {
    const error: PolicyError = isAiboxError(err)
      ? {
          scope,
          code: err.code,
          message: err.message,
          hint: err.hint,
          ...(err.details ? { details: err.details } : {}),
          at: new Date(this.opts.clock.now()).toISOString(),
        }
      : {
          scope,
          code: 'POLICY_REGO_ERROR',
          message: messageOf(err),
          hint: policyErrors.catalogue.POLICY_REGO_ERROR.hint,
          at: new Date(this.opts.clock.now()).toISOString(),
        };
    this.errors.set(scope, error);
    return error;
  }
}

function parseProject(read: ProjectSource | undefined): ProjectLayer {
  return read?.text !== undefined
    ? ProjectLayer.parse(read.text, read.file)
    : ProjectLayer.empty(PROJECT_POLICY_FILE);
}
