import { isIP } from 'node:net';
import { isMap, isNode, isSeq, parseDocument } from 'yaml';
import { checkHostPattern, domainMatches, PROJECT_POLICY_FILE, ProjectLayer } from '../policy/index.js';
import { httpRuleAllows, pathGlobProblem, type HttpRule } from '../policy/doors/egress.js';
import { messageOf } from '../shared/index.js';
import { unifiedDiff } from './diff.js';
import { proposalErrors } from './errors.js';
import type { LearnedHost } from './schema.js';

/** Most distinct hosts one learn run records and lets through. */
export const MAX_LEARNED_HOSTS = 256;
/** Most distinct paths kept per host, and most allowed method + path requests kept per host. */
const MAX_PATHS = 50;
const MAX_REQUESTS = 100;

/** A request the proxy let through with its method and path (plain HTTP, or inside an inspected connection). */
export interface LearnedRequest {
  method: string;
  path: string;
}

/** An egress decision as learn mode reads it (the egress layer's EgressDecision). */
export interface ObservedDecision {
  sandboxId: string;
  layer: 'dns' | 'proxy';
  verdict: 'allow' | 'deny';
  /** The name asked (DNS) or the request target (proxy: `host:port` for CONNECT, a URL for plain HTTP). */
  target: string;
  /** DNS record type or HTTP method. */
  kind: string;
}

interface Seen {
  ports: Set<number>;
  methods: Set<string>;
  paths: Set<string>;
  count: number;
  denied: boolean;
  /** Ports the proxy refused for this host (each handed to learn mode once). */
  refusedPorts: Set<number>;
  /** Allowed requests with a method and a path, as `METHOD path`. */
  requests: Set<string>;
}

/**
 * What one learn run saw of a sandbox's egress: per host, the ports, methods and paths used, and whether the policy
 * in force refused it (learn mode then let it through). Only host names count: IP literals and names that are not
 * valid host names are never learned (the proxy refuses IP literals whatever the policy).
 */
export class LearnRecorder {
  private readonly hosts = new Map<string, Seen>();

  constructor(readonly sandboxId: string) {}

  /**
   * Records a decision; returns the host and port of a proxy refusal not seen before (learn mode may open it). DNS
   * refusals only count: every connection of the sandbox goes through the proxy, which resolves names itself.
   */
  record(d: ObservedDecision): { host: string; port: number } | undefined {
    if (d.sandboxId !== this.sandboxId) return undefined;
    const parsed = d.layer === 'dns' ? dnsTarget(d) : proxyTarget(d);
    if (!parsed) return undefined;
    let seen = this.hosts.get(parsed.host);
    if (!seen) {
      if (this.hosts.size >= MAX_LEARNED_HOSTS) return undefined;
      seen = {
        ports: new Set(),
        methods: new Set(),
        paths: new Set(),
        count: 0,
        denied: false,
        refusedPorts: new Set(),
        requests: new Set(),
      };
      this.hosts.set(parsed.host, seen);
    }
    seen.count++;
    if (parsed.port !== undefined) seen.ports.add(parsed.port);
    if (parsed.method) seen.methods.add(parsed.method);
    if (parsed.path && seen.paths.size < MAX_PATHS) seen.paths.add(parsed.path);
    if (d.verdict !== 'deny' && parsed.method && parsed.method !== 'CONNECT' && parsed.path) {
      if (seen.requests.size < MAX_REQUESTS) seen.requests.add(`${parsed.method} ${parsed.path}`);
    }
    if (d.verdict !== 'deny') return undefined;
    seen.denied = true;
    if (d.layer !== 'proxy' || parsed.port === undefined || seen.refusedPorts.has(parsed.port))
      return undefined;
    seen.refusedPorts.add(parsed.port);
    return { host: parsed.host, port: parsed.port };
  }

  /** Per host, the allowed requests whose method and path were seen (the proposal's `network.http` rules). */
  requests(): Map<string, LearnedRequest[]> {
    const out = new Map<string, LearnedRequest[]>();
    for (const [host, s] of this.hosts)
      out.set(
        host,
        [...s.requests].sort().map((r) => {
          const at = r.indexOf(' ');
          return { method: r.slice(0, at), path: r.slice(at + 1) };
        }),
      );
    return out;
  }

  report(forbiddenBy: (host: string, port: number) => string | undefined): LearnedHost[] {
    return [...this.hosts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([host, s]) => {
        const ports = [...s.ports].sort((a, b) => a - b);
        const forbidden = forbiddenBy(host, ports[0] ?? 443);
        return {
          host,
          ports,
          methods: [...s.methods].sort(),
          paths: [...s.paths].sort(),
          count: s.count,
          allowedBefore: !s.denied,
          ...(forbidden ? { forbiddenBy: forbidden } : {}),
        };
      });
  }
}

function learnable(host: string): string | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (isIP(h) !== 0 || h.includes('*')) return undefined;
  const checked = checkHostPattern(h);
  return checked.ok ? checked.value : undefined;
}

function dnsTarget(
  d: ObservedDecision,
): { host: string; port?: number; method?: string; path?: string } | undefined {
  if (d.kind !== 'A' && d.kind !== 'AAAA') return undefined;
  const host = learnable(d.target);
  return host ? { host } : undefined;
}

function proxyTarget(
  d: ObservedDecision,
): { host: string; port?: number; method?: string; path?: string } | undefined {
  const method = /^[A-Z]{3,10}$/.test(d.kind) ? d.kind : undefined;
  try {
    const url = new URL(d.target.includes('://') ? d.target : `https://${d.target}`);
    const host = learnable(url.hostname);
    if (!host) return undefined;
    const port = Number(url.port) || (url.protocol === 'http:' ? 80 : 443);
    const path = d.target.includes('://') ? url.pathname : undefined;
    return { host, port, ...(method ? { method } : {}), ...(path ? { path } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * The aibox/policy.yaml a learn run proposes: `network.allow` lists the hosts used (within the org/team ceiling),
 * kept with the file's comments; an existing list keeps its entries and gains the missing hosts, a missing one is
 * created with exactly the hosts used (least privilege: the project then narrows to what the agent needed). Used
 * ports other than the org default are added to an existing `network.ports`. Where `network.http` has rules for a
 * host, the requests used that they do not allow gain a rule per method with the exact paths used (`requests`). The
 * result must load as a project file.
 */
export function proposeProjectPolicy(
  current: string | undefined,
  hosts: readonly LearnedHost[],
  requests: ReadonlyMap<string, readonly LearnedRequest[]> = new Map(),
): { proposed: string; diff: string } {
  const usable = hosts.filter((h) => h.forbiddenBy === undefined);
  const doc = parseDocument(current ?? '', { uniqueKeys: true });
  if (doc.errors.length > 0)
    throw proposalErrors.create(
      'PROPOSAL_PROJECT_INVALID',
      `${PROJECT_POLICY_FILE}: ${doc.errors[0]!.message.split('\n')[0]!}`,
    );
  if (doc.contents !== null && !isMap(doc.contents))
    throw proposalErrors.create('PROPOSAL_PROJECT_INVALID', `${PROJECT_POLICY_FILE}: not a mapping of keys`);
  let changed = false;
  const existing = doc.getIn(['network', 'allow']) as
    { items?: unknown[]; add?: (v: unknown) => void } | undefined;
  if (existing?.items && existing.add) {
    const listed = (existing.items as { toJSON?: () => unknown }[]).map((i) => {
      const v = typeof i?.toJSON === 'function' ? i.toJSON() : i;
      if (typeof v === 'string') return /^(.*?)(?::[0-9,]+)?$/.exec(v)?.[1] ?? v;
      return (v as { host?: string } | null)?.host ?? '';
    });
    for (const h of usable)
      if (!listed.some((l) => l !== '' && domainMatches(l, h.host))) {
        existing.add(doc.createNode(h.host));
        changed = true;
      }
  } else if (usable.length > 0) {
    doc.setIn(['network', 'allow'], doc.createNode(usable.map((h) => h.host)));
    changed = true;
  }
  const ports = doc.getIn(['network', 'ports']) as
    { items?: unknown[]; add?: (v: unknown) => void } | undefined;
  if (ports?.items && ports.add) {
    const listed = (ports.items as { toJSON?: () => unknown }[]).map((p) =>
      Number(typeof p?.toJSON === 'function' ? p.toJSON() : p),
    );
    for (const port of new Set(usable.flatMap((h) => h.ports)))
      if (!listed.includes(port)) {
        ports.add(doc.createNode(port));
        listed.push(port);
        changed = true;
      }
  }
  const http = doc.getIn(['network', 'http']);
  if (isSeq(http)) {
    const rules = http.items.map((i) => (isNode(i) ? i.toJSON() : i) as HttpRule);
    for (const h of usable) {
      const forHost = rules.filter((r) => typeof r?.host === 'string' && domainMatches(r.host, h.host));
      // A host without rules already allows every method and path.
      if (forHost.length === 0) continue;
      const missing = new Map<string, Set<string>>();
      for (const r of requests.get(h.host) ?? []) {
        if (forHost.some((rule) => httpRuleAllows(rule, r.method, r.path))) continue;
        // Only a path that is also a valid glob matching just itself (no `*`).
        if (r.path.includes('*') || pathGlobProblem(r.path) !== undefined) continue;
        const paths = missing.get(r.method) ?? new Set<string>();
        missing.set(r.method, paths.add(r.path));
      }
      for (const [method, paths] of [...missing].sort(([a], [b]) => a.localeCompare(b))) {
        http.add(
          doc.createNode({ host: h.host, methods: [method], paths: [...paths].sort() }, { flow: true }),
        );
        changed = true;
      }
    }
  }
  if (!changed) return { proposed: current ?? '', diff: '' };
  // No folding: the file's own long lines (and a rule of many paths) stay one line each.
  const proposed = doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
  try {
    ProjectLayer.parse(proposed);
  } catch (err) {
    throw proposalErrors.create(
      'PROPOSAL_PROJECT_INVALID',
      `the proposed file would not load: ${messageOf(err)}`,
    );
  }
  return { proposed, diff: unifiedDiff(current ?? '', proposed, PROJECT_POLICY_FILE) };
}
