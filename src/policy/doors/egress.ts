import { z } from 'zod';
import { httpScopeExcess } from '../http-containment.js';
import { domainCovers, domainMatches, domainPatternProblem } from '../patterns.js';
import type { Conflict, LayerVerdict, LayerView, Location } from '../types.js';
import { defaultDeny, narrowList, readStatic, verdictOf } from './common.js';
import type { Door } from './door.js';

export const EgressRequest = z
  .object({
    host: z.string().min(1).describe('Host name (or IP literal) the sandbox connects to.'),
    port: z.number().int().min(1).max(65535).default(443),
    method: z.string().optional().describe('HTTP method or CONNECT, when the proxy saw one.'),
    path: z
      .string()
      .optional()
      .describe(
        'Request path (with its query), when the proxy saw one: plain HTTP or an inspected HTTPS host.',
      ),
  })
  .strict();
export type EgressRequest = z.infer<typeof EgressRequest>;

const DomainPattern = z.string().superRefine((v, ctx) => {
  const problem = domainPatternProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: `"${v}": ${problem}` });
});
const Port = z.number().int().min(1).max(65535);
const TcpTarget = z.string().regex(/^[^\s:]+:[0-9]{1,5}$/, 'host:port');

/** What the egress layer renders from: nftables, Squid and the DNS allowlist. */
export interface EffectiveEgress {
  /** Host names and `*.domain` patterns the sandbox may reach; empty means no egress at all. */
  allowDomains: string[];
  /** Destination ports allowed towards those hosts. */
  allowPorts: number[];
  /** Raw TCP destinations (`host:port`) outside the proxy; empty unless the org allows some. */
  allowTcp: string[];
  /**
   * Method/path rules, per layer that has any (`allow_http`). A request to a host one of a layer's rules names must
   * match one of that layer's rules for the host, in every such layer (AND across layers: tighten-only). Hosts
   * named here are inspected (TLS terminated at the proxy).
   */
  allowHttp: HttpRuleSet[];
}

export const DEFAULT_EGRESS_PORTS = [443];

export const egressDoor: Door<EgressRequest, EffectiveEgress> = {
  name: 'egress',
  summary: 'network egress: which hosts and ports the sandbox may reach',
  request: EgressRequest,
  effective(layers) {
    const domains = narrowList(layers, 'egress', 'allow_domains', DomainPattern, domainCovers, {
      orgDefault: [],
    });
    const ports = narrowList(layers, 'egress', 'allow_ports', Port, (a, b) => a === b, {
      orgDefault: DEFAULT_EGRESS_PORTS,
    });
    const tcp = narrowList(layers, 'egress', 'allow_tcp', TcpTarget, (a, b) => a === b, { orgDefault: [] });
    const allowHttp: HttpRuleSet[] = [];
    const httpConflicts: Conflict[] = [];
    const above: { layer: LayerView['layer']; loc: Location; rules: HttpRule[] }[] = [];
    for (const layer of layers) {
      const rules = readStatic(layer, 'egress', 'allow_http', z.array(HttpRuleSchema));
      if (!rules || rules.value.length === 0) continue;
      httpConflicts.push(...widerHttpRules(layer.layer, rules.loc, rules.value, above));
      above.push({ layer: layer.layer, loc: rules.loc, rules: rules.value });
      allowHttp.push({
        layer: layer.layer,
        at: rules.loc.at ?? rules.loc.rule,
        rules: rules.value.map((r, i) => ({ ...r, index: i })),
      });
    }
    return {
      value: {
        allowDomains: domains.value ?? [],
        allowPorts: ports.value ?? DEFAULT_EGRESS_PORTS,
        allowTcp: tcp.value ?? [],
        allowHttp,
      },
      conflicts: [...domains.conflicts, ...ports.conflicts, ...tcp.conflicts, ...httpConflicts],
    };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

/**
 * Tighten-only for method/path rules: a request must pass every layer's rules for its host, so a lower rule
 * allowing more than a higher layer's rules for the same hosts would silently do nothing; it is refused at load
 * instead. For every higher layer with rules, and every host set where a higher rule and the lower rule overlap
 * (the narrower of the two patterns), the lower rule's methods × paths must be inside the union of the higher
 * layer's rules that apply to that whole host set. A higher layer with no rule for those hosts does not narrow them.
 */
function widerHttpRules(
  layer: LayerView['layer'],
  loc: Location,
  rules: readonly HttpRule[],
  above: readonly { layer: LayerView['layer']; loc: Location; rules: HttpRule[] }[],
): Conflict[] {
  const out: Conflict[] = [];
  for (const [i, rule] of rules.entries())
    for (const upper of above) {
      const regions = new Set<string>();
      for (const u of upper.rules) {
        if (domainCovers(u.host, rule.host)) regions.add(rule.host);
        else if (domainCovers(rule.host, u.host)) regions.add(u.host);
      }
      for (const region of regions) {
        const covering = upper.rules.filter((u) => domainCovers(u.host, region));
        const excess = httpScopeExcess(rule, covering, HTTP_RULE_METHODS);
        if (!excess) continue;
        out.push({
          key: 'egress.allow_http',
          value: rule,
          loc,
          layer,
          against: { layer: upper.layer, loc: upper.loc },
          reason:
            `rule ${i + 1} (${showHttpRule(rule)}) allows ${excess.method} ${excess.path} on ${region}, which ` +
            `${upper.layer}'s egress.allow_http${upper.loc.at ? ` (${upper.loc.at})` : ''} does not ` +
            `(${covering.map(showHttpRule).join('; ')})`,
        });
        break;
      }
    }
  return out;
}

function verdict(req: EgressRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const domains = layer.static('egress', 'allow_domains');
  if (domains) {
    const list = domains.value as string[];
    const hit = list.find((p) => domainMatches(p, req.host));
    if (hit) passes.push(domains.loc);
    else
      failures.push({
        reason: `${req.host} is not in ${layer.layer}'s egress.allow_domains`,
        loc: domains.loc,
      });
  } else if (layer.layer === 'org') {
    failures.push(defaultDeny(layer.layer, 'egress', 'allow_domains'));
  }
  const ports = layer.static('egress', 'allow_ports');
  const portList = ports
    ? (ports.value as number[])
    : layer.layer === 'org'
      ? DEFAULT_EGRESS_PORTS
      : undefined;
  if (portList && !portList.includes(req.port)) {
    failures.push({
      reason: `port ${req.port} is not in ${layer.layer}'s egress.allow_ports (${portList.join(', ')})`,
      loc: ports?.loc ?? {
        rule: `data.aibox.${layer.layer}.egress.allow_ports (default ${DEFAULT_EGRESS_PORTS.join(',')})`,
      },
    });
  }
  const http = readStatic(layer, 'egress', 'allow_http', z.array(HttpRuleSchema));
  if (http && req.method !== undefined && req.method !== 'CONNECT') {
    const forHost = http.value.filter((r) => domainMatches(r.host, req.host));
    if (forHost.length > 0) {
      const hit = forHost.find((r) => httpRuleAllows(r, req.method!, req.path ?? '/'));
      if (hit) passes.push(http.loc);
      else
        failures.push({
          reason: `${req.method} ${req.path ?? '/'} on ${req.host} matches none of ${layer.layer}'s egress.allow_http rules for it (${forHost.map(showHttpRule).join('; ')})`,
          loc: http.loc,
        });
    }
  }
  for (const d of layer.denials('egress', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}

/** Methods a method/path rule may name (CONNECT is not a request inside a connection). */
export const HTTP_RULE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * A path glob: starts with `/`; `*` is any run of characters inside one segment, `**` any run including `/`; a
 * trailing `/**` also matches the path without it. Only URL path characters: no `?`, `#`, spaces, backslashes or
 * dot segments (a proxy and an origin could read those differently).
 */
export function pathGlobProblem(glob: string): string | undefined {
  if (!glob.startsWith('/')) return 'a path glob starts with /';
  if (glob.length > 512) return 'a path glob is at most 512 characters';
  const bad = /[^A-Za-z0-9._~!$&'()+,;=:@%/*-]/.exec(glob);
  if (bad) return `"${bad[0]}" is not allowed in a path glob (URL path characters and * only)`;
  if (/\*\*\*/.test(glob)) return 'at most two * in a row';
  if (/(^|\/)\.{1,2}(\/|$)/.test(glob)) return 'no . or .. segments';
  if (/%(?![0-9A-Fa-f]{2})/.test(glob)) return '% must start a percent-encoded byte';
  return undefined;
}

/** The glob as an anchored regular expression over the path; any query string is accepted after it. */
export function pathGlobRegex(glob: string): string {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `/a/**` also matches `/a`.
      if (out.endsWith('/') && i + 2 === glob.length) {
        out = `${out.slice(0, -1)}(/.*)?`;
      } else out += '.*';
      i++;
    } else if (c === '*') out += '[^/?]*';
    else out += /[A-Za-z0-9_~!&',;=:@%/-]/.test(c) ? c : `\\${c}`;
  }
  return `${out}([?].*)?$`;
}

/** A path glob of a method/path rule or a credential binding, checked with the proxy's own grammar. */
export const PathGlob = z.string().superRefine((g, ctx) => {
  const problem = pathGlobProblem(g);
  if (problem) ctx.addIssue({ code: 'custom', message: `"${g}": ${problem}` });
});

const HttpRuleSchema = z
  .object({
    host: DomainPattern,
    methods: z
      .array(
        z.string().superRefine((m, ctx) => {
          if (!(HTTP_RULE_METHODS as readonly string[]).includes(m))
            ctx.addIssue({
              code: 'custom',
              message: `"${m}": not an HTTP method (${HTTP_RULE_METHODS.join(', ')})`,
            });
        }),
      )
      .min(1)
      .optional()
      .describe('Methods allowed; absent: every method.'),
    paths: z.array(PathGlob).min(1).optional().describe('Path globs allowed; absent: every path.'),
  })
  .strict();
export { HttpRuleSchema };
export type HttpRule = z.infer<typeof HttpRuleSchema>;

/** One layer's method/path rules (`at`: where they are written, for refusal pages and explain). */
export interface HttpRuleSet {
  layer: string;
  at: string;
  rules: (HttpRule & { index: number })[];
}

export function httpRuleAllows(rule: HttpRule, method: string, path: string): boolean {
  if (rule.methods && !rule.methods.includes(method.toUpperCase())) return false;
  if (!rule.paths) return true;
  return rule.paths.some((g) => new RegExp(pathGlobRegex(g)).test(path));
}

export function showHttpRule(rule: HttpRule): string {
  return `${(rule.methods ?? ['*']).join(',')} ${rule.host}${(rule.paths ?? ['/**']).join(',')}`;
}
