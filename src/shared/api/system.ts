import { z } from 'zod';
import { EXEC_STREAM } from './names.js';

export const VersionReport = z.object({ version: z.string(), api: z.literal('v1') });
export type VersionReport = z.infer<typeof VersionReport>;

export const DoctorCheck = z.object({
  name: z.string().describe('What was checked, e.g. "runsc", "podman service", "rootless user".'),
  layer: z.string().describe('The enforcement layer it belongs to: runtime, egress, policy, credentials, …'),
  ok: z.boolean(),
  detail: z.string(),
  fix: z.string().optional().describe('What to run or change when ok is false.'),
});
export type DoctorCheck = z.infer<typeof DoctorCheck>;

export const DoctorReport = z.object({
  ok: z.boolean(),
  mode: z.enum(['rootless', 'rootful']),
  modeReason: z.string(),
  checks: z.array(DoctorCheck),
});
export type DoctorReport = z.infer<typeof DoctorReport>;

export const StatusReport = z.object({
  version: z.string(),
  pid: z.number(),
  socket: z.string(),
  stateDir: z.string(),
  mode: z.enum(['rootless', 'rootful']),
  startedAt: z.string(),
  sandboxes: z.object({ total: z.number(), running: z.number() }),
  baseImage: z.object({ name: z.string(), present: z.boolean() }),
});
export type StatusReport = z.infer<typeof StatusReport>;

/** One line of the NDJSON stream answered by POST /v1/images/base. */
export const ImageBuildEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('progress'),
    phase: z.string(),
    percent: z.number().min(0).max(100),
    message: z.string(),
  }),
  z.object({ type: z.literal('done'), image: z.string(), cached: z.boolean(), seconds: z.number() }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), hint: z.string() }),
  }),
]);
export type ImageBuildEvent = z.infer<typeof ImageBuildEvent>;

/** GET /v1/images/base. */
export const BaseImageReport = z.object({ image: z.string(), present: z.boolean() });
export type BaseImageReport = z.infer<typeof BaseImageReport>;

export const BuildImageRequest = z
  .object({ force: z.boolean().default(false).describe('Rebuild even if the image exists (aibox update).') })
  .strict();
export type BuildImageRequest = z.infer<typeof BuildImageRequest>;

export const ExecResult = z.object({
  exitCode: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean().default(false),
  timedOut: z.boolean().optional().describe('true: the timeout killed the command (exit 137)'),
});
export type ExecResult = z.infer<typeof ExecResult>;

/**
 * Streaming exec over a WebSocket (GET /v1/sandboxes/:name/exec/ws, nothing in the query string): the client's
 * first message is a text frame `{"type":"start","spec":<ExecRequest>}` (so env values and flags never appear in a
 * URL or a request log line); then binary frames carry one stream byte (0 stdin, 1 stdout, 2 stderr) and the data,
 * and text frames carry control messages.
 */
export const ExecStartMessage = z
  .object({ type: z.literal('start'), spec: z.record(z.string(), z.unknown()) })
  .strict()
  .describe('The first message of an exec WebSocket; spec is validated as an ExecRequest.');
export type ExecStartMessage = z.infer<typeof ExecStartMessage>;

export const ExecControlMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('resize'),
    cols: z.number().int().positive(),
    rows: z.number().int().positive(),
  }),
  z.object({ type: z.literal('stdin-eof') }),
  z.object({ type: z.literal('exit'), exitCode: z.number().int(), timedOut: z.boolean().optional() }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), hint: z.string() }),
  }),
]);
export type ExecControlMessage = z.infer<typeof ExecControlMessage>;
export { EXEC_STREAM };
