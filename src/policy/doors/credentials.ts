import { z } from 'zod';
import { domainCovers, domainPatternProblem, globCovers, globMatches } from '../patterns.js';
import type { LayerVerdict, LayerView, Location } from '../types.js';
import { defaultDeny, narrowList, verdictOf } from './common.js';
import type { Door } from './door.js';
import { PathGlob } from './egress.js';

/** A placeholder variable's name. */
export const BindingEnv = z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name');

/**
 * How a binding's value travels, shared by the daemon config's bindings and a pack manifest's: the path globs it is
 * sent on, the header it replaces and the header value's format (checked: a quote or line break would end Squid's
 * directive).
 */
export const BindingTransport = {
  paths: z
    .array(PathGlob)
    .min(1)
    .optional()
    .describe('Path globs the value is sent on; absent: every path of the host.'),
  header: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'an HTTP header name')
    .default('Authorization'),
  format: z
    .string()
    .regex(
      /^[^\r\n"\\]*\{value\}[^\r\n"\\]*$/,
      'a header value containing {value} (no quotes or line breaks)',
    )
    .default('Bearer {value}')
    .describe('The header value sent upstream; {value} is the secret.'),
};

/**
 * One credential binding a sandbox may be given: a secret the proxy injects toward a host, standing in the sandbox
 * as a placeholder in `env`. Bindings are declared by the operator only (the daemon config's egress.credentials, a
 * pack manifest): this door decides which of them a sandbox gets, it never creates one.
 */
export const CredentialRequest = z
  .object({
    secret: z.string().min(1).max(128).describe('Name of the secret in the credentials provider.'),
    host: z.string().min(1).max(260).describe('The host (or *.domain) the value is sent to.'),
    env: BindingEnv,
    source: z.enum(['config', 'pack']).describe('Who declared the binding: the daemon config or a pack.'),
    pack: z.string().max(64).optional().describe('The pack that declares it (source pack).'),
  })
  .strict();
export type CredentialRequest = z.infer<typeof CredentialRequest>;

const SecretName = z.string().regex(/^[A-Za-z0-9._/-]*\*?$/, 'a secret name or a prefix ending in *');
const EnvName = BindingEnv;
const HostPattern = z.string().superRefine((v, ctx) => {
  const problem = domainPatternProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: `"${v}": ${problem}` });
});

export interface EffectiveCredentials {
  /**
   * Secret names (or prefixes ending in *) a binding may inject. Undefined: no layer lists any, so only the
   * bindings of the daemon config are given (never a pack's).
   */
  allowedSecrets?: string[];
  /** Hosts (or *.domain) a credential may be sent to; undefined: no layer narrows them. */
  allowedHosts?: string[];
  /** Placeholder variables a sandbox may get (the project's `credentials:`); undefined: no layer narrows them. */
  allowedEnv?: string[];
}

export const credentialsDoor: Door<CredentialRequest, EffectiveCredentials> = {
  name: 'credentials',
  summary: 'credential bindings (secret → host, injected at the egress proxy) the sandbox is given',
  request: CredentialRequest,
  effective(layers) {
    const secrets = narrowList(layers, 'credentials', 'allowed_secrets', SecretName, globCovers);
    const hosts = narrowList(layers, 'credentials', 'allowed_hosts', HostPattern, domainCovers);
    const env = narrowList(layers, 'credentials', 'allowed_env', EnvName, (a, b) => a === b);
    return {
      value: {
        ...(secrets.value ? { allowedSecrets: secrets.value } : {}),
        ...(hosts.value ? { allowedHosts: hosts.value } : {}),
        ...(env.value ? { allowedEnv: env.value } : {}),
      },
      conflicts: [...secrets.conflicts, ...hosts.conflicts, ...env.conflicts],
    };
  },
  verdicts(req, layers) {
    return layers.map((layer) => verdict(req, layer));
  },
};

function verdict(req: CredentialRequest, layer: LayerView): LayerVerdict {
  const failures: { reason: string; loc: Location }[] = [];
  const passes: Location[] = [];
  const what = `the credential ${req.secret} → ${req.host} (${req.env}${req.pack ? `, pack ${req.pack}` : ''})`;
  const secrets = layer.static('credentials', 'allowed_secrets');
  if (secrets && Array.isArray(secrets.value)) {
    if ((secrets.value as unknown[]).some((p) => typeof p === 'string' && globMatches(p, req.secret)))
      passes.push(secrets.loc);
    else
      failures.push({
        reason: `${what} is not in ${layer.layer}'s credentials.allowed_secrets`,
        loc: secrets.loc,
      });
  } else if (layer.layer === 'org') {
    // The daemon config is the operator's own statement; a pack's binding needs the org to name its secret.
    if (req.source === 'config')
      passes.push({
        rule: 'egress.credentials (daemon config; the org lists no credentials.allowed_secrets)',
      });
    else failures.push(defaultDeny(layer.layer, 'credentials', 'allowed_secrets'));
  }
  const hosts = layer.static('credentials', 'allowed_hosts');
  if (hosts && Array.isArray(hosts.value)) {
    if ((hosts.value as unknown[]).some((p) => typeof p === 'string' && domainCovers(p, req.host)))
      passes.push(hosts.loc);
    else
      failures.push({
        reason: `${what}: host not in ${layer.layer}'s credentials.allowed_hosts`,
        loc: hosts.loc,
      });
  }
  const env = layer.static('credentials', 'allowed_env');
  if (env && Array.isArray(env.value)) {
    if ((env.value as unknown[]).includes(req.env)) passes.push(env.loc);
    else
      failures.push({ reason: `${what}: ${req.env} is not in ${layer.layer}'s credentials`, loc: env.loc });
  }
  for (const d of layer.denials('credentials', req)) failures.push({ reason: d.message, loc: d.loc });
  return verdictOf(layer.layer, failures, passes);
}
