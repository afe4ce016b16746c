import { isIP } from 'node:net';
import { z } from 'zod';
import { checkHostPattern } from '../policy/index.js';
import { HttpRuleSchema } from '../policy/doors/egress.js';

/**
 * The typed egress policy of one sandbox: everything the enforcement layers (nftables, Squid, DNS) need, in one
 * object. Today it is built from the project's `aibox/policy.yaml` plus the daemon config (see project-policy.ts);
 * the layered-policy module will produce the same object from Rego. Dangerous values are refused here with a reason,
 * so no renderer ever sees `*`, `*.com` or an IP literal where a name is expected.
 */

export { checkHostPattern, type HostPatternCheck } from '../policy/index.js';

export const HostPattern = z
  .string()
  .transform((raw, ctx) => {
    const checked = checkHostPattern(raw);
    if (!checked.ok) {
      ctx.addIssue({ code: 'custom', message: `${raw}: ${checked.reason}` });
      return z.NEVER;
    }
    return checked.value;
  })
  .describe(
    'A host name (`api.example.com`) or a wildcard over its subdomains and itself (`*.example.com`).',
  );

export const Port = z.number().int().min(1).max(65535);

export const HttpMethod = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT']);
export type HttpMethod = z.infer<typeof HttpMethod>;

export const AllowRule = z
  .object({
    host: HostPattern,
    ports: z
      .array(Port)
      .default([])
      .describe('Ports allowed for this host; empty means 80 for plain HTTP and 443 for HTTPS (CONNECT).'),
    methods: z
      .array(HttpMethod)
      .optional()
      .describe(
        'HTTP methods allowed for plain HTTP. Methods inside HTTPS cannot be seen, so HTTPS to a method-limited ' +
          'host is only allowed when CONNECT is listed.',
      ),
  })
  .strict();
export type AllowRule = z.infer<typeof AllowRule>;

const Address = z.string().refine((a) => isIP(a) !== 0, 'an IPv4 or IPv6 address');

export const TcpRule = z
  .object({
    host: z
      .string()
      .refine((h) => isIP(h) !== 0 || checkHostPattern(h).ok, 'a host name or an IP address (no wildcard)')
      .refine((h) => !h.includes('*'), 'no wildcard: the address is resolved when the rules are applied'),
    port: Port,
  })
  .strict()
  .describe('A non-HTTP TCP destination reached directly (not through the proxy), e.g. a database.');
export type TcpRule = z.infer<typeof TcpRule>;

export const UpstreamProxy = z
  .object({
    url: z
      .string()
      .regex(/^(http|socks5):\/\/[^/:@\s]+:[0-9]{1,5}\/?$/, 'http://HOST:PORT or socks5://HOST:PORT')
      .describe('Proxy that Squid sends allowed traffic to (a corporate proxy).'),
    noProxy: z
      .array(HostPattern)
      .default([])
      .describe('Allowed hosts Squid reaches directly rather than through the upstream proxy.'),
  })
  .strict();
export type UpstreamProxy = z.infer<typeof UpstreamProxy>;

export const HostExemption = z
  .object({ address: Address, port: Port })
  .strict()
  .describe('A destination on the host itself (loopback, link-local) that allowed names may resolve to.');
export type HostExemption = z.infer<typeof HostExemption>;

/** A credential binding as the proxy renders it: no value, only where it goes and the placeholder for it. */
export const PlaceholderRule = z
  .object({
    host: HostPattern,
    paths: z.array(z.string()).optional(),
    header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
    placeholder: z.string().regex(/^aibox-cred-[0-9a-f]{32}$/),
  })
  .strict();
export type PlaceholderRule = z.infer<typeof PlaceholderRule>;

/** One layer's method/path rules, as the egress door composed them (see EffectiveEgress.allowHttp). */
export const HttpRuleSet = z
  .object({
    layer: z.string().min(1),
    at: z.string(),
    rules: z.array(HttpRuleSchema.extend({ index: z.number().int().min(0) })).min(1),
  })
  .strict();
export type HttpRuleSet = z.infer<typeof HttpRuleSet>;

export const EgressPolicy = z
  .object({
    allow: z.array(AllowRule).default([]).describe('Hosts reachable through the proxy (HTTP and HTTPS).'),
    tcp: z.array(TcpRule).default([]),
    http: z
      .array(HttpRuleSet)
      .default([])
      .describe('Method/path rules per layer; the hosts they name are inspected (TLS terminated).'),
    credentials: z
      .array(PlaceholderRule)
      .default([])
      .describe('Hosts the proxy injects a credential toward, and the placeholder standing for it.'),
    upstreamProxy: UpstreamProxy.optional(),
    dnsHosts: z
      .record(
        z.string().refine((h) => checkHostPattern(h).ok && !h.includes('*'), 'a host name'),
        Address,
      )
      .default({})
      .describe('Static DNS records (internal names); answered only for names the allowlist covers.'),
    hostAccess: z
      .array(HostExemption)
      .default([])
      .describe('Host destinations (loopback, link-local) the proxy may reach; refused otherwise.'),
  })
  .strict();
export type EgressPolicy = z.infer<typeof EgressPolicy>;
export type EgressPolicyInput = z.input<typeof EgressPolicy>;

/** `example.com`, `*.example.com:443`, `api.example.com:443,8443` → an allow rule (ports after the colon). */
export function parseAllowShorthand(entry: string): z.input<typeof AllowRule> {
  const match = /^(.*?)(?::([0-9]+(?:,[0-9]+)*))?$/.exec(entry.trim());
  const host = match?.[1] ?? entry;
  const ports = match?.[2] ? match[2].split(',').map((p) => Number(p)) : [];
  return { host, ports };
}

/** `db.example.com:5432` → a TCP rule. */
export function parseTcpShorthand(entry: string): z.input<typeof TcpRule> {
  const idx = entry.lastIndexOf(':');
  if (idx <= 0) return { host: entry, port: 0 };
  return { host: entry.slice(0, idx).replace(/^\[(.*)\]$/, '$1'), port: Number(entry.slice(idx + 1)) };
}

/** Host patterns whose HTTPS the proxy terminates: every host a method/path rule names. */
export function inspectedHosts(policy: EgressPolicy): string[] {
  const hosts = [
    ...policy.http.flatMap((set) => set.rules.map((r) => r.host)),
    ...policy.credentials.map((c) => c.host),
  ];
  return [...new Set(hosts)].sort();
}
