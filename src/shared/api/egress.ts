import { z } from 'zod';
import { DoctorCheck } from './system.js';

/** POST /v1/sandboxes/:name/egress/selftest: enforcement probes run from inside the sandbox. */
export const EgressSelftestResult = z.object({
  ok: z.boolean(),
  sandbox: z.string(),
  proxy: z.string().describe('The proxy URL as the sandbox reaches it.'),
  checks: z.array(DoctorCheck),
});
export type EgressSelftestResult = z.infer<typeof EgressSelftestResult>;

/** GET /v1/egress/decisions/:id: one DNS or proxy decision (the id a 403 body or a denied query showed). */
export const EgressDecisionReport = z.object({
  id: z.string(),
  sandboxId: z.string(),
  time: z.number().describe('Milliseconds since the epoch.'),
  layer: z.enum(['dns', 'proxy']),
  verdict: z.enum(['allow', 'deny']),
  reason: z
    .string()
    .describe('Stable code: DNS_NOT_ALLOWED, EGRESS_DOMAIN_NOT_ALLOWED, EGRESS_IP_LITERAL, …'),
  target: z.string(),
  kind: z.string().describe('DNS record type or HTTP method.'),
  detail: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
});
export type EgressDecisionReport = z.infer<typeof EgressDecisionReport>;

/** GET /v1/egress/decisions: filters of the recent DNS and proxy decisions, allowed and refused. */
export const EgressDecisionQuery = z
  .object({
    sandbox: z.string().min(1).max(128).optional().describe('Only this sandbox (by name).'),
    verdict: z.enum(['allow', 'deny']).optional(),
    layer: z.enum(['dns', 'proxy']).optional(),
    limit: z.coerce.number().int().min(1).max(5000).default(500),
  })
  .strict();
export type EgressDecisionQuery = z.infer<typeof EgressDecisionQuery>;

/** The answer: newest first, each with its sandbox's name while the sandbox exists. */
export const EgressDecisionList = z.object({
  decisions: z.array(EgressDecisionReport.extend({ sandbox: z.string().optional() })),
  /** Decisions kept in memory that matched, before `limit`. */
  matched: z.number().int(),
});
export type EgressDecisionList = z.infer<typeof EgressDecisionList>;
