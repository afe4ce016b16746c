import { z } from 'zod';

export const AuditRecordJson = z.object({
  seq: z.number(),
  ts: z.string(),
  kind: z.string(),
  id: z.string().optional(),
  sandbox: z.string().optional(),
  sandboxId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
  prev: z.string(),
  hash: z.string(),
});
export type AuditRecordJson = z.infer<typeof AuditRecordJson>;

/** GET /v1/audit: the latest records, oldest first. */
export const AuditRecordList = z.object({ records: z.array(AuditRecordJson) });
export type AuditRecordList = z.infer<typeof AuditRecordList>;

export const AuditTailQuery = z
  .object({
    sandbox: z.string().optional(),
    kind: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(50),
  })
  .strict();
export type AuditTailQuery = z.infer<typeof AuditTailQuery>;

export const AuditVerifyReport = z.object({
  ok: z.boolean(),
  records: z.number(),
  lastSeq: z.number(),
  lastHash: z.string(),
  problem: z.object({ line: z.number(), seq: z.number().optional(), reason: z.string() }).optional(),
});
export type AuditVerifyReport = z.infer<typeof AuditVerifyReport>;

export const AuditExportQuery = z
  .object({ sandbox: z.string().min(1), sandboxId: z.string().optional() })
  .strict();

export const AuditExportBundle = z.object({
  sandbox: z.string(),
  exportedAt: z.string(),
  counts: z.record(z.string(), z.number()),
  records: z.array(AuditRecordJson),
  verify: AuditVerifyReport,
});
export type AuditExportBundle = z.infer<typeof AuditExportBundle>;
