import { egressErrors } from './errors.js';
import { pathGlobRegex, showHttpRule } from '../policy/doors/egress.js';
import { renderPlaceholderAcls } from './credentials.js';
import { inspectedHosts, type AllowRule, type EgressPolicy, type HttpRuleSet } from './policy.js';

/**
 * squid.conf for one sandbox's proxy (one Squid per sandbox: see docs/egress.md). Pure and golden-tested.
 *
 * Order of the http_access lines is the order of the checks, and each denying line ends with its own ACL so that
 * `deny_info` can give every refusal its own page (the reason), carrying the transaction's decision id.
 *
 * Host header: Squid 5 replaces the Host header of an absolute-form request with the target's authority as it
 * parses it (RFC 9112 §3.2.2), so the origin always sees the host that was checked; a different Host header cannot
 * be sent through this proxy in plain HTTP.
 *
 * HTTPS: a CONNECT to a host a method/path rule (or a credential binding) names is bumped at once (ssl-bump step 1,
 * "client-first"): TLS is terminated with a certificate from the sandbox's own CA for the CONNECT host, and each
 * request inside is checked like any request: its Host must equal the SNI and be an inspected host (so the name
 * checked is the name connected), then the allowlist and the method/path rules; Squid connects upstream per
 * request, to the host that was checked. Every other CONNECT is peeked (step 1): the TLS SNI must equal the CONNECT
 * host (an external ACL compares them), else the connection is terminated; no SNI, or no TLS at all, is refused
 * too; then it is spliced: a plain tunnel to the name checked.
 *
 * Why client-first and not peek-then-bump: Squid 5 bumps a peeked connection "server-first" (it connects and
 * completes a TLS handshake upstream before answering the client), skips its generated-certificate memory cache
 * for peeked connections (a certificate-helper round trip per connection) and cannot hand that pinned upstream
 * connection back to its pool. Client-first pays neither: the certificate is minted once per host and kept in
 * memory, and the upstream TLS connection is reused from the pool (bench/egress: ~6 ms → under 2 ms added per new
 * inspected connection).
 */

export interface SquidConfInput {
  readonly sandboxId: string;
  readonly policy: EgressPolicy;
  /** Where this sandbox's proxy listens on the host. */
  readonly listen: { address: string; port: number };
  /** The sandbox's resolver as Squid reaches it (port 53 is implied: Squid cannot take another port). */
  readonly dnsServer: string;
  /** Directory for pid file, cache.log, access.log (the decision feed aiboxd tails) and error pages. */
  readonly dir: string;
  /** Random per Squid start (8 hex digits): decision ids are `dec_<token><transaction number>`, hex-only like every decision id. */
  readonly instanceToken: string;
  /** Addresses that mean "the host itself" (loopback, link-local, the host's own addresses). */
  readonly hostNets: readonly string[];
  /** The sandbox's CA (see tls.ts) and what Squid needs to terminate TLS with it. */
  readonly tls: {
    caCert: string;
    caKey: string;
    certDb: string;
    certgen: string;
    /** Extra CAs for inspected upstreams (tests' own CA, a corporate CA). */
    upstreamCaFiles: readonly string[];
  };
}

/** The external ACL helper comparing SNI and host (one line `<sni> <host>` in, OK or ERR out), written per proxy. */
export const SNI_HELPER = 'sni-match.sh';
export const SNI_HELPER_SCRIPT = [
  '#!/bin/sh',
  '# aibox: the TLS SNI must be the host the request names (no SNI: "-", never equal to a host name).',
  `exec /usr/bin/awk -W interactive '{ print ((tolower($1) == tolower($2)) ? "OK" : "ERR") }'`,
  '',
].join('\n');

/**
 * Internal networks an allowed public name must never resolve to (DNS rebinding onto the LAN, the host's VPN or
 * the provider's CGNAT). Names an operator pinned in the daemon config (dns.hosts) are the only way in.
 */
export const INTERNAL_NETS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];

export const SQUID_PID_FILE = 'squid.pid';
export const CREDENTIALS_CONF = 'credentials.conf';
export const SQUID_ACCESS_LOG = 'access.log';
export const SQUID_ERRORS_DIR = 'errors';

/** Why a request was refused, by error page. Stable: these names are in the decision log. */
export const DENY_REASONS = {
  ERR_AIBOX_MANAGER: {
    code: 'EGRESS_PROXY_INTERNALS',
    text: "the proxy's own management pages are not reachable from a sandbox",
    ask: 'nothing to ask: this is never allowed',
  },
  ERR_AIBOX_IP_LITERAL: {
    code: 'EGRESS_IP_LITERAL',
    text: 'the destination is an IP address; only named hosts on the allowlist are reachable',
    ask: 'use the host name; if it has none, ask for it to be added as a TCP destination in aibox/policy.yaml',
  },
  ERR_AIBOX_DOMAIN: {
    code: 'EGRESS_DOMAIN_NOT_ALLOWED',
    text: "the host is not on this sandbox's allowlist",
    ask: 'ask a human to add the host to network.allow in aibox/policy.yaml; it applies without a restart',
  },
  ERR_AIBOX_HOST_DESTINATION: {
    code: 'EGRESS_HOST_DESTINATION',
    text: 'the host name resolves to the aibox host itself (loopback, link-local or a host address)',
    ask: 'use the gateway endpoints in the sandbox environment; an operator can allow a host port in the daemon config',
  },
  ERR_AIBOX_INTERNAL_DESTINATION: {
    code: 'EGRESS_INTERNAL_DESTINATION',
    text: 'the host name resolves to an internal network address (RFC 1918, CGNAT 100.64/10 or IPv6 ULA)',
    ask: 'an operator can pin an internal name to its address in the daemon config (egress dns.hosts)',
  },
  ERR_AIBOX_FRONTING: {
    code: 'EGRESS_SNI_MISMATCH',
    text: 'the Host of this HTTPS request is not the TLS server name (SNI) it was sent under (domain fronting)',
    ask: 'send each request to the host it names; nothing to ask: this is never allowed',
  },
  ERR_AIBOX_PATH: {
    code: 'EGRESS_PATH_AMBIGUOUS',
    text: 'the path has dot segments or backslashes, which the proxy and the server could read differently',
    ask: 'send the normalised path (no /./, /../ or \\)',
  },
  ERR_AIBOX_PLACEHOLDER: {
    code: 'EGRESS_CREDENTIAL_EXFILTRATION',
    text: 'the request carries a credential placeholder toward a host (or header, or path) it is not bound to',
    ask: 'send the placeholder only as the bound header to the bound host; this attempt is in the audit log',
  },
  ERR_AIBOX_PORT_METHOD: {
    code: 'EGRESS_PORT_OR_METHOD_NOT_ALLOWED',
    text: 'the host is allowed, but not this port or this HTTP method (HTTPS goes to port 443 unless ports are listed)',
    ask: 'ask a human to list the port (host:port) or the method for this host in aibox/policy.yaml',
  },
} as const;
export type DenyPage = keyof typeof DENY_REASONS;

/** The reason code of a refusal by a method/path rule set (its page is ERR_AIBOX_HTTP_<n>). */
export const HTTP_RULE_REASON = 'EGRESS_HTTP_NOT_ALLOWED';

/** The error page templates, by file name. @Squid{%master_xaction} is the same number the access log carries. */
export function renderErrorPages(instanceToken: string, policy?: EgressPolicy): Record<string, string> {
  const pages: Record<string, string> = {};
  const page = (code: string, text: string, ask: string) =>
    [
      `aibox egress: request refused (${code}).`,
      `reason: ${text}.`,
      `request: %M %U`,
      `decision: dec_${instanceToken}@Squid{%master_xaction}`,
      `next step: ${ask}.`,
      'Quote the decision id when you ask a human for access: aiboxd keeps every decision in its log.',
      '',
    ].join('\n');
  for (const [name, r] of Object.entries(DENY_REASONS)) pages[name] = page(r.code, r.text, r.ask);
  (policy?.http ?? []).forEach((set, n) => {
    pages[httpPage(n)] = page(
      HTTP_RULE_REASON,
      // `%` starts a template code in a Squid page: a percent-encoded path in a rule is written as `%%`.
      `no method/path rule of layer ${set.layer} (egress.allow_http at ${set.at}) allows this request; ` +
        `its rules: ${set.rules.map((r) => `[${r.index}] ${showHttpRule(r)}`).join('; ')}`.replace(
          /%/g,
          '%%',
        ),
      `ask a human to add a rule for this method and path (network.http in aibox/policy.yaml, or the ${set.layer} policy)`,
    );
  });
  return pages;
}

function httpPage(n: number): string {
  return `ERR_AIBOX_HTTP_${n}`;
}

export function renderSquidConf(input: SquidConfInput): string {
  const { policy, dir } = input;
  const token = input.instanceToken;
  const out: string[] = [];
  const line = (s = '') => out.push(s);

  line(`# aibox egress proxy for sandbox ${input.sandboxId}: generated by aiboxd, do not edit.`);
  const tls = input.tls;
  line(
    `http_port ${input.listen.address}:${input.listen.port} name=aibox ssl-bump tls-cert=${tls.caCert} ` +
      `tls-key=${tls.caKey} generate-host-certificates=on dynamic_cert_mem_cache_size=4MB`,
  );
  line(`sslcrtd_program ${tls.certgen} -s ${tls.certDb} -M 4MB`);
  line('sslcrtd_children 4 startup=1 idle=1');
  line('# An upstream certificate that does not verify is an error (never a silent pass-through).');
  line('sslproxy_cert_error deny all');
  for (const ca of tls.upstreamCaFiles) line(`tls_outgoing_options cafile=${ca}`);
  line('# Anything that is not TLS inside a CONNECT cannot be classified: it gets an error, never a tunnel.');
  line('on_unsupported_protocol respond all');
  line(`visible_hostname aibox-egress`);
  line(`pid_filename ${dir}/${SQUID_PID_FILE}`);
  line(`cache_log ${dir}/cache.log`);
  line(`coredump_dir ${dir}`);
  line(`error_directory ${dir}/${SQUID_ERRORS_DIR}`);
  line('httpd_suppress_version_string on');
  line('# Nothing is cached: a proxy that stores responses would be a channel between requests.');
  line('cache deny all');
  line('cache_mem 0 MB');
  line('cache_store_log none');
  line('pinger_enable off');
  line('shutdown_lifetime 0 seconds');
  line(
    '# host-facts: with "off", a client that half-closes gets no answer to a request needing an upstream fetch.',
  );
  line('half_closed_clients on');
  line(
    '# Upstream connections (TLS ones of inspected hosts too) are pooled: a new client connection reuses one.',
  );
  line('server_persistent_connections on');
  line('forwarded_for delete');
  line('via off');
  line(
    '# Names resolve only through the sandbox allowlisting resolver: no /etc/hosts (localhost!), no search domains.',
  );
  line('hosts_file none');
  line(`dns_nameservers ${input.dnsServer}`);
  line('dns_defnames off');
  line('');
  line('# Decision log: every request as one line, unbuffered; aiboxd tails it into its decision log.');
  line(
    `logformat aibox aibox2 ${input.sandboxId} dec_${token}%master_xaction %ts.%03tu %rm %>Hs %Ss %err_code %ssl::bump_mode %ssl::>sni %ru`,
  );
  line(`access_log stdio:${dir}/${SQUID_ACCESS_LOG} aibox`);
  line('buffered_logs off');
  line('logfile_rotate 0');
  line('');
  line('acl CONNECT method CONNECT');
  line('acl aibox_ip_literal dstdom_regex -n -i ^[0-9.]+$ ^0x[0-9a-f.x]+$ ^\\[?[0-9a-f:.]*:[0-9a-f:.]*\\]?$');
  line(`acl aibox_to_host dst ${input.hostNets.join(' ')}`);
  line(`acl aibox_internal dst ${INTERNAL_NETS.join(' ')}`);
  // An internal or host address is reached only under a name the operator pinned to it (dns.hosts): an allowed
  // name that merely resolves there (DNS rebinding) is refused even when the address is pinned for another name.
  const pinned = unique(Object.values(policy.dnsHosts));
  const pinnedNames = [...new Set(Object.keys(policy.dnsHosts))].sort();
  if (pinned.length > 0) {
    line(`acl aibox_pinned dst ${pinned.join(' ')}`);
    line(`acl aibox_pinned_name dstdomain -n ${pinnedNames.join(' ')}`);
    line('acl aibox_pinned_ok all-of aibox_pinned_name aibox_pinned');
  }

  const hosts = policy.allow.map((r) => squidDomain(r.host));
  if (hosts.length > 0) line(`acl aibox_known_host dstdomain -n ${unique(hosts).join(' ')}`);
  else line('acl aibox_known_host dstdomain -n aibox.invalid');

  const exemptions = policy.hostAccess.map((h, i) => {
    line(`acl aibox_hx${i}_dst dst ${h.address}`);
    line(`acl aibox_hx${i}_port port ${h.port}`);
    line(`acl aibox_hx${i} all-of aibox_hx${i}_dst aibox_hx${i}_port`);
    return `aibox_hx${i}`;
  });
  const hostOk = exemptions.length > 0 && pinned.length > 0;
  if (hostOk) {
    line(`acl aibox_host_exempt any-of ${exemptions.join(' ')}`);
    line('acl aibox_host_ok all-of aibox_host_exempt aibox_pinned_name');
  }

  line('acl aibox_encrypted connections_encrypted');
  line('acl aibox_step1 at_step SslBump1');
  line('acl aibox_step2 at_step SslBump2');
  line(
    `external_acl_type aibox_sni ttl=3600 negative_ttl=3600 children-max=2 children-startup=1 %ssl::>sni %>rd ${dir}/${SNI_HELPER}`,
  );
  line('acl aibox_sni_match external aibox_sni');
  line('acl aibox_dot_segment urlpath_regex -i (^|/)(\\.|%2e){1,2}(/|[?;]|$) \\\\ %5c');
  const inspected = inspectedHosts(policy);
  if (inspected.length > 0) {
    line(`acl aibox_inspect ssl::server_name ${unique(inspected.map(squidDomain)).join(' ')}`);
    line(`acl aibox_inspected_host dstdomain -n ${unique(inspected.map(squidDomain)).join(' ')}`);
  }

  const placeholders = renderPlaceholderAcls(policy.credentials, line);

  const allows: string[] = [];
  policy.allow.forEach((rule, i) => allows.push(...ruleAcls(rule, i, line)));
  const httpChecks = policy.http.map((set, n) => httpSetAcls(set, n, line));

  line('');
  line(
    '# The checks, in order. Each denying line ends with an always-true ACL named after its reason, which',
  );
  line(
    '# deny_info maps to the page that explains it (a negated or slow ACL last on a line loses its deny_info).',
  );
  for (const page of Object.keys(DENY_REASONS)) line(`acl ${reasonAcl(page)} src all`);
  line(`http_access deny manager ${reasonAcl('ERR_AIBOX_MANAGER')}`);
  line(`http_access deny aibox_ip_literal ${reasonAcl('ERR_AIBOX_IP_LITERAL')}`);
  line(`http_access deny !aibox_known_host ${reasonAcl('ERR_AIBOX_DOMAIN')}`);
  line(
    `http_access deny aibox_to_host${hostOk ? ' !aibox_host_ok' : ''} ${reasonAcl('ERR_AIBOX_HOST_DESTINATION')}`,
  );
  line(
    `http_access deny aibox_internal${pinned.length > 0 ? ' !aibox_pinned_ok' : ''}${hostOk ? ' !aibox_host_ok' : ''} ${reasonAcl('ERR_AIBOX_INTERNAL_DESTINATION')}`,
  );
  line(`http_access deny !CONNECT aibox_encrypted !aibox_sni_match ${reasonAcl('ERR_AIBOX_FRONTING')}`);
  // TLS is terminated only for inspected hosts: a request inside a bumped connection to any other host (CONNECT
  // to an inspected host, then SNI and Host of another) is fronting, even when that host is allowed as a tunnel.
  if (inspected.length > 0)
    line(
      `http_access deny !CONNECT aibox_encrypted !aibox_inspected_host ${reasonAcl('ERR_AIBOX_FRONTING')}`,
    );
  line(`http_access deny !CONNECT aibox_dot_segment ${reasonAcl('ERR_AIBOX_PATH')}`);
  if (placeholders)
    line(`http_access deny !CONNECT aibox_placeholder !aibox_bound ${reasonAcl('ERR_AIBOX_PLACEHOLDER')}`);
  for (const c of httpChecks) line(c);
  for (const a of allows) line(a);
  line(`http_access deny ${reasonAcl('ERR_AIBOX_PORT_METHOD')}`);
  line('');
  for (const page of Object.keys(DENY_REASONS)) line(`deny_info 403:${page} ${reasonAcl(page)}`);
  policy.http.forEach((_, n) => line(`deny_info 403:${httpPage(n)} ${reasonAcl(httpPage(n))}`));
  line('');
  line(
    '# TLS: inspected hosts are bumped client-first (each request inside is checked, its Host must be the SNI);',
  );
  line('# every other CONNECT is peeked, its SNI must be the CONNECT host, then it is spliced.');
  if (inspected.length > 0) line('ssl_bump bump aibox_step1 aibox_inspect');
  line('ssl_bump peek aibox_step1');
  line('ssl_bump terminate aibox_step2 !aibox_sni_match');
  line('ssl_bump splice all');
  if (placeholders) {
    line('');
    line('# Credential values (their own 0600 file, so this one holds none): the bound header, rewritten.');
    line(`include ${dir}/${CREDENTIALS_CONF}`);
  }

  const upstream = policy.upstreamProxy;
  if (upstream) {
    const url = /^(http|socks5):\/\/([^/:]+):([0-9]+)/.exec(upstream.url);
    if (!url || url[1] !== 'http')
      throw egressErrors.create(
        'EGRESS_POLICY_INVALID',
        'a SOCKS5 upstream proxy cannot be chained from Squid 5 (no SOCKS support in it)',
        { upstream: upstream.url.replace(/\/\/[^@]*@/, '//') },
      );
    line('');
    line('# Allowed traffic leaves through the upstream proxy, except the hosts listed as no-upstream.');
    line(
      `cache_peer ${url[2]} parent ${url[3]} 0 no-query no-digest no-netdb-exchange default name=aibox_upstream`,
    );
    if (upstream.noProxy.length > 0) {
      line(`acl aibox_no_upstream dstdomain -n ${unique(upstream.noProxy.map(squidDomain)).join(' ')}`);
      line('always_direct allow aibox_no_upstream');
      line('never_direct allow !aibox_no_upstream');
      line('cache_peer_access aibox_upstream deny aibox_no_upstream');
    } else {
      line('never_direct allow all');
    }
    line('cache_peer_access aibox_upstream allow all');
  }
  line('');
  return out.join('\n');
}

function ruleAcls(rule: AllowRule, i: number, line: (s: string) => void): string[] {
  const name = `aibox_r${i}`;
  line(`acl ${name}_host dstdomain -n ${squidDomain(rule.host)}`);
  const explicit = rule.ports.length > 0;
  line(`acl ${name}_http_port port ${explicit ? rule.ports.join(' ') : '80'}`);
  line(`acl ${name}_tls_port port ${explicit ? rule.ports.join(' ') : '443'}`);
  const methods = rule.methods?.filter((m) => m !== 'CONNECT');
  const connectAllowed = rule.methods === undefined || rule.methods.includes('CONNECT');
  const access: string[] = [];
  if (connectAllowed) {
    access.push(`http_access allow ${name}_host CONNECT ${name}_tls_port`);
    // Requests inside an inspected (bumped) connection: checked above by the method/path rules.
    access.push(`http_access allow ${name}_host !CONNECT aibox_encrypted ${name}_tls_port`);
  }
  if (methods === undefined) {
    access.push(`http_access allow ${name}_host !CONNECT ${name}_http_port`);
  } else if (methods.length > 0) {
    line(`acl ${name}_methods method ${methods.join(' ')}`);
    access.push(`http_access allow ${name}_host !CONNECT ${name}_http_port ${name}_methods`);
  }
  return access;
}

/**
 * One layer's method/path rules: a request (not CONNECT) to a host the layer names must match one of its rules.
 * Returns the denying http_access line.
 */
function httpSetAcls(set: HttpRuleSet, n: number, line: (s: string) => void): string {
  const name = `aibox_h${n}`;
  line(`acl ${name}_hosts dstdomain -n ${unique(set.rules.map((r) => squidDomain(r.host))).join(' ')}`);
  const rules = set.rules.map((rule, i) => {
    const r = `${name}_r${i}`;
    const parts = [`${r}_host`];
    line(`acl ${r}_host dstdomain -n ${squidDomain(rule.host)}`);
    if (rule.methods) {
      line(`acl ${r}_methods method ${rule.methods.join(' ')}`);
      parts.push(`${r}_methods`);
    }
    if (rule.paths) {
      line(`acl ${r}_paths urlpath_regex ${rule.paths.map(pathGlobRegex).join(' ')}`);
      parts.push(`${r}_paths`);
    }
    line(`acl ${r} all-of ${parts.join(' ')}`);
    return r;
  });
  line(`acl ${name}_ok any-of ${rules.join(' ')}`);
  line(`acl ${reasonAcl(httpPage(n))} src all`);
  return `http_access deny !CONNECT ${name}_hosts !${name}_ok ${reasonAcl(httpPage(n))}`;
}

/** ERR_AIBOX_DOMAIN → aibox_why_domain */
function reasonAcl(page: string): string {
  return `aibox_why_${page.replace(/^ERR_AIBOX_/, '').toLowerCase()}`;
}

/** `*.example.com` → `.example.com` (Squid: the domain and its subdomains); exact names unchanged. */
function squidDomain(host: string): string {
  return host.startsWith('*.') ? host.slice(1) : host;
}

function unique(xs: string[]): string[] {
  // Squid refuses a dstdomain list holding both `.a.com` and `b.a.com`: keep the covering wildcard only.
  const set = [...new Set(xs)];
  return set.filter(
    (d) => !set.some((o) => o !== d && o.startsWith('.') && (d === o.slice(1) || d.endsWith(o))),
  );
}
