import type { EgressPolicy } from './policy.js';

/**
 * Name matching shared by the resolver and the self-test: `*.example.com` covers example.com and every name below
 * it (the same meaning as Squid's `.example.com` and a CoreDNS zone), `example.com` only itself.
 */
export class HostAllowlist {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(patterns: Iterable<string>) {
    for (const p of patterns) {
      if (p.startsWith('*.')) this.suffixes.push(p.slice(2));
      else this.exact.add(p);
    }
  }

  static fromPolicy(policy: EgressPolicy): HostAllowlist {
    return new HostAllowlist(allowedNames(policy));
  }

  allows(name: string): boolean {
    const n = name.toLowerCase().replace(/\.$/, '');
    if (this.exact.has(n)) return true;
    return this.suffixes.some((s) => n === s || n.endsWith(`.${s}`));
  }
}

/** Every name pattern the sandbox may resolve: proxy hosts and named TCP destinations. */
export function allowedNames(policy: EgressPolicy): string[] {
  const names = new Set(policy.allow.map((r) => r.host));
  for (const t of policy.tcp) if (!/^[0-9.]+$/.test(t.host) && !t.host.includes(':')) names.add(t.host);
  return [...names].sort();
}
