import type { SandboxReport } from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';

/**
 * A session's sandbox belongs to the token that made it, not to the uid it runs for (root, for tokens): its report
 * names `token NAME`. Sandboxes of socket users keep the user name the sandbox service gave them.
 */
export function withSessionOwners(services: DaemonServices, reports: SandboxReport[]): SandboxReport[] {
  const api = services.sessionApi;
  if (!api) return reports;
  const owners = api.sessions.ownersBySandbox();
  if (owners.size === 0) return reports;
  const names = new Map(api.tokens.list().map((t) => [t.id, t.name]));
  return reports.map((r) => {
    const owner = owners.get(r.name);
    if (!owner?.startsWith('tok_')) return r;
    return { ...r, owner: `token ${names.get(owner) ?? owner}` };
  });
}
