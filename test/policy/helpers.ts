import type { Logger, PolicyDecision } from '../../src/shared/index.js';
import { EngineBackend, PolicyStore, type PolicySource, type RepoSources } from '../../src/policy/index.js';

export const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => quiet,
};
export const clock = { now: () => Date.parse('2026-01-01T00:00:00Z') };

/** A policy repo held in memory: file path -> text (org/…, teams/<team>/…), plus project files by project path. */
export class MemorySource implements PolicySource {
  constructor(
    public files: Record<string, string>,
    public projects: Record<string, string> = {},
  ) {}

  readRepo(): Promise<RepoSources> {
    const src: RepoSources = { org: { modules: [], data: [] }, teams: {} };
    for (const [file, text] of Object.entries(this.files).sort()) {
      const team = /^teams\/([^/]+)\//.exec(file)?.[1];
      const layer = team ? (src.teams[team] ??= { modules: [], data: [] }) : src.org;
      if (file.endsWith('_test.rego')) continue;
      if (file.endsWith('.rego')) layer.modules.push({ file, text });
      else if (/data\.(ya?ml|json)$/.test(file)) layer.data.push({ file, text });
    }
    return Promise.resolve(src);
  }

  readProject(path: string): Promise<{ file: string; text: string } | undefined> {
    const text = this.projects[path];
    return Promise.resolve(text === undefined ? undefined : { file: 'aibox/policy.yaml', text });
  }
}

export function newStore(
  source: PolicySource,
  decisions: PolicyDecision[] = [],
  defaultTeam?: string,
): PolicyStore {
  return new PolicyStore({
    source,
    backend: new EngineBackend(),
    sink: { record: (d) => Promise.resolve(void decisions.push(d)) },
    logger: quiet,
    clock,
    ...(defaultTeam !== undefined ? { defaultTeam } : {}),
  });
}
