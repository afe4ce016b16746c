/**
 * Every egress decision (a DNS answer, a proxy request) is reported to an injected sink with a decision id, so the
 * daemon can put it in its decision log and a user can look up the id a 403 page or a denied query showed them.
 */
export interface EgressDecision {
  /** `dec_…`: what a refusal shows the agent. */
  readonly id: string;
  readonly sandboxId: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly layer: 'dns' | 'proxy';
  readonly verdict: 'allow' | 'deny';
  /** Stable reason code: DNS_ALLOWED, DNS_NOT_ALLOWED, EGRESS_DOMAIN_NOT_ALLOWED, … */
  readonly reason: string;
  /** The name asked for (DNS) or the request target (proxy). */
  readonly target: string;
  /** DNS record type or HTTP method. */
  readonly kind: string;
  readonly detail?: Record<string, string | number>;
}

export type DecisionSink = (decision: EgressDecision) => void;

/** Error page → stable reason code (the proxy's refusals). */
const PAGE_REASONS: Record<string, string> = {
  ERR_AIBOX_MANAGER: 'EGRESS_PROXY_INTERNALS',
  ERR_AIBOX_IP_LITERAL: 'EGRESS_IP_LITERAL',
  ERR_AIBOX_DOMAIN: 'EGRESS_DOMAIN_NOT_ALLOWED',
  ERR_AIBOX_HOST_DESTINATION: 'EGRESS_HOST_DESTINATION',
  ERR_AIBOX_INTERNAL_DESTINATION: 'EGRESS_INTERNAL_DESTINATION',
  ERR_AIBOX_PORT_METHOD: 'EGRESS_PORT_OR_METHOD_NOT_ALLOWED',
  ERR_AIBOX_FRONTING: 'EGRESS_SNI_MISMATCH',
  ERR_AIBOX_PATH: 'EGRESS_PATH_AMBIGUOUS',
  ERR_AIBOX_PLACEHOLDER: 'EGRESS_CREDENTIAL_EXFILTRATION',
  // Not TLS inside a CONNECT (on_unsupported_protocol respond): nothing the proxy could classify.
  ERR_PROTOCOL_UNKNOWN: 'EGRESS_UNCLASSIFIED',
};

/**
 * One access-log line of the per-sandbox Squid (logformat `aibox` in render-squid.ts):
 * `aibox2 <sandbox id> <decision id> <epoch.ms> <method> <status> <squid status> <error page> <tls> <sni> <url>`
 * (`aibox1` lines, from before TLS inspection, lack `<tls> <sni>`). `<tls>` is Squid's bump mode: `bump` for a
 * request inside an inspected connection (its url then has the full path), `splice` for a tunnel,
 * `terminate` for a connection cut because its SNI was not the CONNECT host, `-` for plain HTTP.
 */
export function parseSquidLogLine(text: string): EgressDecision | undefined {
  const parts = text.trim().split(' ');
  const v2 = parts[0] === 'aibox2';
  if (parts.length < (v2 ? 11 : 9) || (!v2 && parts[0] !== 'aibox1')) return undefined;
  const [, sandboxId, id, ts, method, status, squidStatus, errField] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const tls = v2 ? parts[8]! : '-';
  const sni = v2 ? parts[9]! : '-';
  const url = parts.slice(v2 ? 10 : 8);
  // Squid writes the page as `403:ERR_AIBOX_DOMAIN` when deny_info gave a status.
  const errPage = errField.replace(/^[0-9]{3}:/, '');
  const terminated = tls === 'terminate';
  const denied =
    terminated ||
    squidStatus.includes('DENIED') ||
    errPage.startsWith('ERR_AIBOX_') ||
    errPage in PAGE_REASONS;
  const reason = terminated
    ? 'EGRESS_SNI_MISMATCH'
    : denied
      ? (PAGE_REASONS[errPage] ??
        (errPage.startsWith('ERR_AIBOX_HTTP_') ? 'EGRESS_HTTP_NOT_ALLOWED' : 'EGRESS_DENIED'))
      : 'EGRESS_ALLOWED';
  return {
    id,
    sandboxId,
    time: Math.round(Number(ts) * 1000),
    layer: 'proxy',
    verdict: denied ? 'deny' : 'allow',
    reason,
    target: url.join(' '),
    kind: method,
    detail: {
      status: Number(status),
      squid: squidStatus,
      ...(errPage !== '-' ? { page: errPage } : {}),
      ...(tls !== '-' ? { tls } : {}),
      ...(sni !== '-' ? { sni } : {}),
    },
  };
}
