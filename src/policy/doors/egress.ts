import { z } from 'zod';
import { domainCovers, domainMatches, domainPatternProblem } from '../patterns.js';
import type { LayerVerdict, LayerView, Location } from '../types.js';
import { defaultDeny, narrowList, verdictOf } from './common.js';
import type { Door } from './door.js';

export const EgressRequest = z
  .object({
    host: z.string().min(1).describe('Host name (or IP literal) the sandbox connects to.'),
    port: z.number().int().min(1).max(65535).default(443),
    method: z.string().optional().describe('HTTP method or CONNECT, when the proxy saw one.'),
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
    return {
      value: {
        allowDomains: domains.value ?? [],
        allowPorts: ports.value ?? DEFAULT_EGRESS_PORTS,
        allowTcp: tcp.value ?? [],
      },
      conflicts: [...domains.conflicts, ...ports.conflicts, ...tcp.conflicts],
    };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

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
  for (const d of layer.denials('egress', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}
