import { defineErrors } from '../shared/index.js';

/**
 * Egress errors. The layer codes (EGRESS_NETNS, EGRESS_NFTABLES, EGRESS_SQUID, EGRESS_DNS) are what a sandbox start
 * fails with when that layer cannot be set up or verified: the sandbox never runs without it.
 */
export const egressErrors = defineErrors({
  EGRESS_POLICY_INVALID: {
    status: 400,
    hint: 'Fix the named entry in aibox/policy.yaml (network.allow); `docs/egress.md` lists what is accepted and why.',
  },
  EGRESS_NETNS: {
    status: 503,
    hint: 'aiboxd must run as root with nsenter (util-linux) and the sandbox must still be running; see the daemon log.',
  },
  EGRESS_NFTABLES: {
    status: 503,
    hint: 'Install nftables (`scripts/setup-host.sh`) and make sure the kernel has nf_tables; the daemon log has the nft output.',
  },
  EGRESS_SQUID: {
    status: 503,
    hint: 'Install squid (`scripts/setup-host.sh`); the sandbox state directory has egress/squid/cache.log with the cause.',
  },
  EGRESS_DNS: {
    status: 503,
    hint: 'The allowlisting resolver could not bind its port: another process may hold it (`ss -lunp`).',
  },
  EGRESS_TLS: {
    status: 503,
    hint: 'Install squid-openssl and openssl (`scripts/setup-host.sh`); the daemon log names the step that failed.',
  },
  EGRESS_CREDENTIAL: {
    status: 503,
    hint: 'Check the egress.credentials bindings in aiboxd.yaml and that each secret exists (`aibox secret list`).',
  },
  EGRESS_NOT_ENFORCED: {
    status: 409,
    hint: 'The sandbox has no egress enforcement attached (it may have been started without network); restart it.',
  },
  EGRESS_DECISION_NOT_FOUND: {
    status: 404,
    hint: 'Decisions are kept in memory for the recent past; check the id, or search the daemon log for it.',
  },
  EGRESS_SELFTEST: {
    status: 502,
    hint: 'The self-test could not run inside the sandbox; check that it is running (`aibox status NAME`).',
  },
});
