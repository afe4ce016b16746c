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
};

/**
 * One access-log line of the per-sandbox Squid (logformat `aibox` in render-squid.ts):
 * `aibox1 <sandbox id> <decision id> <epoch.ms> <method> <status> <squid status> <error page> <url>`.
 */
export function parseSquidLogLine(text: string): EgressDecision | undefined {
  const parts = text.trim().split(' ');
  if (parts.length < 9 || parts[0] !== 'aibox1') return undefined;
  const [, sandboxId, id, ts, method, status, squidStatus, errField, ...url] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    ...string[],
  ];
  // Squid writes the page as `403:ERR_AIBOX_DOMAIN` when deny_info gave a status.
  const errPage = errField.replace(/^[0-9]{3}:/, '');
  const denied = squidStatus.includes('DENIED') || errPage.startsWith('ERR_AIBOX_');
  const reason = denied ? (PAGE_REASONS[errPage] ?? 'EGRESS_DENIED') : 'EGRESS_ALLOWED';
  return {
    id,
    sandboxId,
    time: Math.round(Number(ts) * 1000),
    layer: 'proxy',
    verdict: denied ? 'deny' : 'allow',
    reason,
    target: url.join(' '),
    kind: method,
    detail: { status: Number(status), squid: squidStatus, ...(errPage !== '-' ? { page: errPage } : {}) },
  };
}
