import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { messageOf } from '../shared/index.js';
import { DOORS, DOOR_NAMES, type DoorName } from './doors/index.js';
import { policyErrors } from './errors.js';
import { ProjectLayer } from './project.js';
import { RegoLayer, type RegoBackend, type RegoSource } from './rego-layer.js';
import type { Conflict, LayerView } from './types.js';

/** One layer's files as read from the policy repo (strings only: the loader did the I/O). */
export interface LayerFiles {
  modules: RegoSource[];
  data: RegoSource[];
}

export interface RepoSources {
  org: LayerFiles;
  teams: Record<string, LayerFiles>;
}

/** The org layer and every team layer, compiled and checked. Shared by every sandbox. */
export interface CompiledRepo {
  /** Content hash of every file: names the policy a decision was made under. */
  revision: string;
  org: RegoLayer;
  teams: ReadonlyMap<string, RegoLayer>;
  /** Content hash per layer (`org`, `team:<team>`): tells whose edit caused a conflict. */
  layerRevisions: ReadonlyMap<string, string>;
  /**
   * Team values a tightened org no longer allows. They cannot loosen anything (layers intersect), so the
   * org's change applies; they are reported until the team fixes them.
   */
  stale: Conflict[];
}

/** The layers that apply to one sandbox, and the effective value of every door. */
export interface PolicySet {
  revision: string;
  team: string | undefined;
  layers: readonly LayerView[];
  effective: { [D in DoorName]: ReturnType<(typeof DOORS)[D]['effective']>['value'] };
  /** Project values a tightened higher layer no longer allows (see CompiledRepo.stale). */
  stale: Conflict[];
}

const TEAM_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Compiles the repo. A team value the org does not allow is refused (POLICY_LOOSENING) when the team's own files
 * changed since `previous` (the team tried to loosen); when only the org changed, the org's tightening applies and
 * the conflict is kept in `stale` (refusing it would keep the looser org policy in force).
 */
export function compileRepo(src: RepoSources, backend: RegoBackend, previous?: CompiledRepo): CompiledRepo {
  const revision = hashSources(src);
  const layerRevisions = new Map<string, string>([['org', hashLayer(src.org)]]);
  const stale: Conflict[] = [];
  const orgData = mergeData(src.org.data, 'org');
  const org = compileLayer('org', 'aibox.org', src.org.modules, { org: orgData }, backend);
  // Org alone must be a consistent baseline (values of the right shape).
  effectiveOf([org]);
  const teams = new Map<string, RegoLayer>();
  for (const [team, files] of Object.entries(src.teams).sort(([a], [b]) => a.localeCompare(b))) {
    if (!TEAM_NAME.test(team)) {
      throw policyErrors.create('POLICY_WRONG_PACKAGE', `teams/${team}: team names are [a-z0-9_-]`, { team });
    }
    const data = { org: orgData, teams: { [team]: mergeData(files.data, `teams/${team}`) } };
    const layer = compileLayer(`team:${team}`, `aibox.team.${team}`, files.modules, data, backend);
    const layerRevision = hashLayer(files);
    layerRevisions.set(`team:${team}`, layerRevision);
    const conflicts = effectiveOf([org, layer]).conflicts;
    if (previous && previous.layerRevisions.get(`team:${team}`) === layerRevision) stale.push(...conflicts);
    else throwOnConflicts(conflicts);
    teams.set(team, layer);
  }
  return { revision, org, teams, layerRevisions, stale };
}

/**
 * The team layer of a project, decided by the org: `data.aibox.org.projects.team` evaluated with
 * `input.path` (the project folder on the host), else the daemon's default team, else none. Never the project's
 * own files (the agent can write them).
 */
export function teamOf(repo: CompiledRepo, projectPath: string, defaultTeam?: string): string | undefined {
  const got = repo.org.query('projects', 'team', { path: projectPath });
  if (got === undefined) return defaultTeam;
  if (typeof got.value !== 'string' || !TEAM_NAME.test(got.value)) {
    throw policyErrors.create(
      'POLICY_BAD_VALUE',
      `${got.loc.at ?? got.loc.rule}: projects.team must be a team name, got ${JSON.stringify(got.value)}`,
      { rule: got.loc.rule, value: got.value },
    );
  }
  return got.value;
}

/**
 * Puts org, the sandbox's team (see teamOf) and the project together. Throws POLICY_LOOSENING when the project
 * (or team) widens a higher layer.
 */
export function composeSet(
  repo: CompiledRepo,
  project: ProjectLayer,
  teamName?: string,
  opts: { tolerateStale?: boolean } = {},
): PolicySet {
  const layers: LayerView[] = [repo.org];
  if (teamName !== undefined) {
    const team = repo.teams.get(teamName);
    if (!team) {
      throw policyErrors.create(
        'POLICY_TEAM_MISSING',
        `team ${teamName} has no layer in the policy repo (teams/${teamName}/ is missing)`,
        { team: teamName, known: [...repo.teams.keys()] },
      );
    }
    layers.push(team);
  }
  layers.push(project);
  const { effective, conflicts } = effectiveOf(layers);
  // Team conflicts were settled by compileRepo; here only the project's own count.
  const own = conflicts.filter((c) => c.layer === 'project');
  if (!opts.tolerateStale) throwOnConflicts(own);
  return { revision: repo.revision, team: teamName, layers, effective, stale: own };
}

function effectiveOf(layers: readonly LayerView[]): {
  effective: PolicySet['effective'];
  conflicts: Conflict[];
} {
  const effective: Record<string, unknown> = {};
  const conflicts: Conflict[] = [];
  for (const name of DOOR_NAMES) {
    const r = DOORS[name].effective(layers);
    effective[name] = r.value;
    conflicts.push(...r.conflicts);
  }
  return { effective: effective as PolicySet['effective'], conflicts };
}

function throwOnConflicts(conflicts: Conflict[]): void {
  const first = conflicts[0];
  if (!first) return;
  throw policyErrors.create(
    'POLICY_LOOSENING',
    describeConflict(first) + (conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : ''),
    {
      file: first.loc.at?.replace(/:\d+$/, ''),
      key: first.key,
      value: first.value,
      policyLayer: first.layer,
      conflictsWith: first.against.layer,
      conflicts: conflicts.map((c) => ({
        at: c.loc.at,
        key: c.key,
        value: c.value,
        policyLayer: c.layer,
        conflictsWith: c.against.layer,
        conflictsAt: c.against.loc?.at,
      })),
    },
  );
}

function compileLayer(
  layer: 'org' | `team:${string}`,
  pkg: string,
  modules: readonly RegoSource[],
  data: Record<string, unknown>,
  backend: RegoBackend,
): RegoLayer {
  for (const m of modules) {
    const declared = /^\s*package\s+([A-Za-z0-9_.]+)/m.exec(m.text)?.[1];
    if (declared === undefined || (declared !== pkg && !declared.startsWith(`${pkg}.`))) {
      throw policyErrors.create(
        'POLICY_WRONG_PACKAGE',
        `${m.file}: package ${declared ?? '(none)'} is outside layer ${layer}: modules here must declare package ${pkg} or ${pkg}.<door>`,
        { file: m.file, policyLayer: layer, package: declared, expected: pkg },
      );
    }
  }
  const program = backend.compile(modules, data);
  return new RegoLayer(layer, pkg, program);
}

/**
 * Data files of one layer merged into one object, OPA bundle style: `<dir>/data.yaml` (or .yml, .json) lands at
 * the path of `<dir>` below the layer folder. A key defined twice is an error.
 */
function mergeData(files: readonly RegoSource[], layerDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of files) {
    let v: unknown;
    try {
      v = parseYaml(f.text);
    } catch (err) {
      throw policyErrors.create('POLICY_DATA_INVALID', `${f.file}: ${messageOf(err).split('\n')[0]}`, {
        file: f.file,
      });
    }
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) {
      throw policyErrors.create('POLICY_DATA_INVALID', `${f.file}: top level must be a mapping`, {
        file: f.file,
      });
    }
    const rel = f.file.startsWith(`${layerDir}/`) ? f.file.slice(layerDir.length + 1) : f.file;
    let target = out;
    for (const seg of rel.split('/').slice(0, -1)) {
      const next = target[seg];
      if (next !== undefined && (typeof next !== 'object' || next === null || Array.isArray(next))) {
        throw policyErrors.create('POLICY_DATA_INVALID', `${f.file}: ${seg} is already a value`, {
          file: f.file,
        });
      }
      target = (next as Record<string, unknown> | undefined) ?? (target[seg] = {});
    }
    for (const [k, val] of Object.entries(v)) {
      if (k in target) {
        throw policyErrors.create(
          'POLICY_DATA_INVALID',
          `${f.file}: key ${k} is also defined by another data file`,
          {
            file: f.file,
            key: k,
          },
        );
      }
      target[k] = val;
    }
  }
  return out;
}

function hashLayer(files: LayerFiles): string {
  const h = createHash('sha256');
  for (const f of [...files.modules, ...files.data].sort((a, b) => a.file.localeCompare(b.file))) {
    h.update(f.file)
      .update('\0')
      .update(f.text)
      .update('\0')
      .update(f.regoVersion ?? '')
      .update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

/** A conflict as one line, for errors and reports. */
export function describeConflict(c: Conflict): string {
  return `${c.loc.at ?? c.layer}: ${c.key}: ${JSON.stringify(c.value)} loosens the policy: ${c.reason}`;
}

function hashSources(src: RepoSources): string {
  const h = createHash('sha256');
  const add = (files: LayerFiles) => {
    for (const f of [...files.modules, ...files.data].sort((a, b) => a.file.localeCompare(b.file))) {
      h.update(f.file)
        .update('\0')
        .update(f.text)
        .update('\0')
        .update(f.regoVersion ?? '')
        .update('\0');
    }
  };
  add(src.org);
  for (const team of Object.keys(src.teams).sort()) add(src.teams[team]!);
  return h.digest('hex').slice(0, 12);
}

export { ProjectLayer };
