import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical.js';

/**
 * One line of the audit log. `kind` is an open string so every module can add its own (`decision`, `exec`, `push`,
 * `llm-call`, `sandbox`, …); `data` is whatever that kind needs, already redacted by the caller and masked again by
 * the log's value masker.
 */
export const AuditRecord = z.object({
  seq: z.number().int().positive().describe('1-based position in the log; a gap means a deleted record.'),
  ts: z.string().describe('ISO-8601 time the record was appended.'),
  kind: z.string().min(1).describe('Record kind: decision, exec, push, llm-call, sandbox, policy, …'),
  id: z.string().optional().describe('Id of the thing recorded (dec_…, push_…), when it has one.'),
  sandbox: z.string().optional().describe('Sandbox name the record belongs to, if any.'),
  sandboxId: z
    .string()
    .optional()
    .describe('Sandbox id (sbx_…): tells apart two sessions that reused a name.'),
  data: z.record(z.string(), z.unknown()).describe('The record body.'),
  prev: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe('sha256 of the previous record (its canonical bytes).'),
  hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe('sha256 of this record without `hash`, canonical bytes.'),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

/** What callers hand to `append`: the log fills in seq, ts, prev and hash. */
export const AuditEntry = z.object({
  kind: z.string().min(1),
  id: z.string().optional(),
  sandbox: z.string().optional(),
  sandboxId: z.string().optional(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type AuditEntry = z.input<typeof AuditEntry>;

export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  const { hash: _ignored, ...body } = record as AuditRecord;
  return sha256Hex(canonicalJson(body));
}

/** The exact bytes of a record's line (without the newline). */
export function recordLine(record: AuditRecord): string {
  return canonicalJson(record);
}
