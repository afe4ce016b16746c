import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { EgressConfig } from './config.js';
import { egressErrors } from './errors.js';
import type { AllowRule, TcpRule } from './policy.js';
import { EgressPolicy, parseAllowShorthand, parseTcpShorthand } from './policy.js';

/**
 * Until layered policy lands: the project's `aibox/policy.yaml` (`network: {allow: [...], tcp: [...]}`) plus the
 * daemon's egress config make the sandbox's EgressPolicy. Anything else in the file belongs to other layers and is
 * ignored here.
 */
const ProjectNetwork = z
  .object({
    allow: z.array(z.union([z.string(), z.record(z.string(), z.unknown())])).default([]),
    tcp: z.array(z.union([z.string(), z.record(z.string(), z.unknown())])).default([]),
  })
  .strict();

const ProjectFile = z.object({ network: ProjectNetwork.optional() }).passthrough();

export function egressPolicyFromProject(yamlText: string | undefined, config: EgressConfig): EgressPolicy {
  let doc: unknown = {};
  if (yamlText !== undefined && yamlText.trim() !== '') {
    try {
      doc = parseYaml(yamlText) ?? {};
    } catch (err) {
      throw egressErrors.create(
        'EGRESS_POLICY_INVALID',
        `aibox/policy.yaml is not valid YAML: ${(err as Error).message}`,
      );
    }
  }
  const file = ProjectFile.safeParse(doc);
  if (!file.success) throw invalid(file.error, 'aibox/policy.yaml');
  const network = file.data.network ?? { allow: [], tcp: [] };
  const allow = [...config.alwaysAllow, ...network.allow].map((e) =>
    typeof e === 'string' ? parseAllowShorthand(e) : e,
  );
  const tcp = network.tcp.map((e) => (typeof e === 'string' ? parseTcpShorthand(e) : e));
  return buildEgressPolicy({
    allow: allow as z.input<typeof AllowRule>[],
    tcp: tcp as z.input<typeof TcpRule>[],
    upstreamProxy: config.upstreamProxy,
    dnsHosts: config.dns.hosts,
    hostAccess: config.hostAccess,
  });
}

/** Validates a policy object, turning zod's issues into EGRESS_POLICY_INVALID naming the entry and the reason. */
export function buildEgressPolicy(input: z.input<typeof EgressPolicy>): EgressPolicy {
  const parsed = EgressPolicy.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error, 'egress policy');
  return parsed.data;
}

function invalid(error: z.ZodError, where: string) {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  return egressErrors.create(
    'EGRESS_POLICY_INVALID',
    `${where}: ${first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid'}`,
    { issues },
  );
}
