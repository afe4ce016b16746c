import { isIP } from 'node:net';
import { z } from 'zod';
import { AllowRule, HostExemption, UpstreamProxy } from './policy.js';
import { CredentialBinding } from './credentials.js';

/** The daemon-wide egress settings (the `egress:` section of aiboxd.yaml). */
export const EgressConfig = z
  .object({
    squid: z.string().startsWith('/').default('/usr/sbin/squid').describe('Path of the squid binary.'),
    nft: z.string().startsWith('/').default('/usr/sbin/nft').describe('Path of the nft binary.'),
    nsenter: z.string().startsWith('/').default('/usr/bin/nsenter').describe('Path of nsenter (util-linux).'),
    tls: z
      .object({
        openssl: z.string().startsWith('/').default('/usr/bin/openssl').describe('Makes the per-sandbox CA.'),
        certgen: z
          .string()
          .startsWith('/')
          .default('/usr/lib/squid/security_file_certgen')
          .describe("Squid's certificate generator (squid-openssl) for inspected hosts."),
        systemBundle: z
          .string()
          .startsWith('/')
          .default('/etc/ssl/certs/ca-certificates.crt')
          .describe("CAs the sandbox trusts besides its own egress CA (the host's bundle, as today)."),
        upstreamCaFiles: z
          .array(z.string().startsWith('/'))
          .default([])
          .describe(
            'Extra CAs the proxy trusts when it connects to inspected hosts (besides the system ones).',
          ),
      })
      .strict()
      .default({
        openssl: '/usr/bin/openssl',
        certgen: '/usr/lib/squid/security_file_certgen',
        systemBundle: '/etc/ssl/certs/ca-certificates.crt',
        upstreamCaFiles: [],
      }),
    squidUser: z
      .string()
      .min(1)
      .default('proxy')
      .describe('Unprivileged user Squid drops to (it must be able to write its state directory).'),
    listenAddress: z
      .string()
      .refine((a) => isIP(a) === 4, 'an IPv4 address')
      .default('127.0.0.1')
      .describe('Host address the per-sandbox proxy and resolver listen on (rootless: loopback).'),
    sandboxHostAddress: z
      .string()
      .refine((a) => isIP(a) === 4, 'an IPv4 address')
      .default('10.0.2.2')
      .describe('The same address as the sandbox sees it (slirp4netns maps 10.0.2.2 to the host loopback).'),
    squidDnsNetwork: z
      .string()
      .regex(/^127\.[0-9]{1,3}\.0\.0$/, '127.N.0.0')
      .default('127.53.0.0')
      .describe(
        'Loopback /16 from which each sandbox gets an address where its resolver also answers on port 53, for ' +
          'Squid (whose dns_nameservers cannot take a port).',
      ),
    upstreamDns: z
      .array(z.string().regex(/^[0-9a-f.:[\]]+(:[0-9]+)?$/i, 'IP or IP:PORT'))
      .default([])
      .describe(
        'Resolvers the allowlisting DNS forwards allowed names to; empty: those of /etc/resolv.conf.',
      ),
    dns: z
      .object({
        hosts: z.record(z.string(), z.string()).default({}).describe('Static records for internal names.'),
      })
      .strict()
      .default({ hosts: {} }),
    upstreamProxy: UpstreamProxy.optional(),
    alwaysAllow: z
      .array(z.union([z.string(), AllowRule]))
      .default([])
      .describe(
        'Hosts every sandbox may reach, in addition to its project policy (e.g. the package mirror).',
      ),
    hostAccess: z.array(HostExemption).default([]),
    credentials: z
      .array(CredentialBinding)
      .default([])
      .describe(
        'Secrets injected by the proxy toward one host each; the sandbox holds a placeholder (docs/egress.md).',
      ),
    credentialRefreshSeconds: z
      .number()
      .int()
      .min(5)
      .max(3600)
      .default(60)
      .describe(
        'How often injected credentials are read again (Vault leases renew; a changed value reloads).',
      ),
    sweepIntervalSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(60)
      .describe('How often the daemon removes egress state its failed or interrupted starts left behind.'),
  })
  .strict();
export type EgressConfig = z.infer<typeof EgressConfig>;
export type EgressConfigInput = z.input<typeof EgressConfig>;
