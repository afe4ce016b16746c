import { domainMatches } from '../policy/index.js';
import type { EgressPolicy } from './policy.js';

/**
 * The allowlist as the resolver and the self-test see it. Matching is policy's (`domainMatches`): one meaning of
 * `*.example.com` (the domain and every name below it) for decisions, explain and enforcement.
 */
export class HostAllowlist {
  private readonly patterns: string[];

  constructor(patterns: Iterable<string>) {
    this.patterns = [...patterns];
  }

  static fromPolicy(policy: EgressPolicy): HostAllowlist {
    return new HostAllowlist(allowedNames(policy));
  }

  allows(name: string): boolean {
    return this.patterns.some((p) => domainMatches(p, name));
  }
}

/** Every name pattern the sandbox may resolve: proxy hosts and named TCP destinations. */
export function allowedNames(policy: EgressPolicy): string[] {
  const names = new Set(policy.allow.map((r) => r.host));
  for (const t of policy.tcp) if (!/^[0-9.]+$/.test(t.host) && !t.host.includes(':')) names.add(t.host);
  return [...names].sort();
}
