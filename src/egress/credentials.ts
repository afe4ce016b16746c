import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { BindingEnv, BindingTransport } from '../policy/doors/credentials.js';
import { pathGlobRegex } from '../policy/doors/egress.js';
import { egressErrors } from './errors.js';
import { HostPattern, type PlaceholderRule } from './policy.js';

/**
 * Credentials injected at the egress point. The operator binds a secret (from the credentials provider) to a host
 * in the daemon config; the sandbox gets a random placeholder in an environment variable instead of the value. The
 * proxy terminates TLS for the bound host and, when a request carries the placeholder in the bound header (on the
 * bound paths), replaces that header with the real value. A placeholder seen anywhere else is refused and audited
 * as an exfiltration attempt.
 *
 * Bindings live in the daemon config, never in aibox/policy.yaml: the agent can write that file, and a binding names
 * where a secret may go.
 */
export const CredentialBinding = z
  .object({
    secret: z
      .string()
      .min(1)
      .describe('Name of the secret in the credentials provider (embedded store or Vault).'),
    host: HostPattern.describe(
      'The only host the value is sent to (inspected: TLS terminated at the proxy).',
    ),
    ...BindingTransport,
    env: BindingEnv.describe('Variable that holds the placeholder inside the sandbox (e.g. GITHUB_TOKEN).'),
  })
  .strict();
export type CredentialBinding = z.infer<typeof CredentialBinding>;

/** `aibox-cred-` and 32 hex digits: recognisable in any header or URL, and never a real token's shape. */
export const PLACEHOLDER_PREFIX = 'aibox-cred-';

export function newPlaceholder(): string {
  return `${PLACEHOLDER_PREFIX}${randomBytes(16).toString('hex')}`;
}

/** Headers a placeholder is looked for in, besides the bound ones and the URL (bodies are not inspected). */
export const WATCHED_HEADERS = [
  'Authorization',
  'Proxy-Authorization',
  'Cookie',
  'X-Api-Key',
  'X-Auth-Token',
  'Private-Token',
  'X-Access-Token',
];

/**
 * The part of squid.conf that holds secret values: written to its own file (0600, Squid's user) and included, so
 * squid.conf itself never holds one. Values are checked: a quote or line break would end the directive.
 */
export function renderCredentialsConf(
  rules: readonly PlaceholderRule[],
  values: readonly string[],
  formats: readonly string[],
): string {
  const out = ['# aibox: credentials injected at the egress point (secret: do not copy).'];
  rules.forEach((rule, i) => {
    const value = values[i];
    const format = formats[i];
    if (value === undefined || format === undefined)
      throw egressErrors.create('EGRESS_CREDENTIAL', `credential binding ${i} has no value`);
    if (/[\r\n"\\]/.test(value))
      throw egressErrors.create(
        'EGRESS_CREDENTIAL',
        `the secret bound to ${rule.host} contains a quote, backslash or line break; it cannot be sent as a header`,
      );
    // `%` starts a format code in request_header_add values.
    const header = format.replace('{value}', value).replace(/%/g, '%%');
    out.push(`request_header_access ${rule.header} deny aibox_c${i}`);
    out.push(`request_header_add ${rule.header} "${header}" aibox_c${i}`);
  });
  return `${out.join('\n')}\n`;
}

/** The ACLs (no secrets) for each binding and for spotting placeholders; returns the names http_access uses. */
export function renderPlaceholderAcls(rules: readonly PlaceholderRule[], line: (s: string) => void): boolean {
  rules.forEach((rule, i) => {
    const c = `aibox_c${i}`;
    const host = rule.host.startsWith('*.') ? rule.host.slice(1) : rule.host;
    line(`acl ${c}_host dstdomain -n ${host}`);
    // The placeholder is letters, digits and dashes only: no regex escaping needed.
    line(`acl ${c}_ph req_header ${rule.header} ${rule.placeholder}`);
    const parts = [`${c}_host`, `${c}_ph`];
    if (rule.paths) {
      line(`acl ${c}_paths urlpath_regex ${rule.paths.map(pathGlobRegex).join(' ')}`);
      parts.push(`${c}_paths`);
    }
    line(`acl ${c} all-of ${parts.join(' ')}`);
  });
  if (rules.length === 0) return false;
  const anyPlaceholder = `${PLACEHOLDER_PREFIX}[0-9a-f]{32}`;
  const names: string[] = [];
  for (const h of unique([...WATCHED_HEADERS, ...rules.map((r) => r.header)])) {
    const n = `aibox_ph_${h.toLowerCase().replace(/[^a-z0-9]/g, '_')}`;
    line(`acl ${n} req_header ${h} -i ${anyPlaceholder}`);
    names.push(n);
  }
  line(`acl aibox_ph_url url_regex -i ${anyPlaceholder}`);
  line(`acl aibox_placeholder any-of ${[...names, 'aibox_ph_url'].join(' ')}`);
  line(`acl aibox_bound any-of ${rules.map((_, i) => `aibox_c${i}`).join(' ')}`);
  return true;
}

function unique(xs: string[]): string[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(x.toLowerCase()) ? false : (seen.add(x.toLowerCase()), true)));
}
