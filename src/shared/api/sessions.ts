import { z } from 'zod';
import { API_ROUTES } from './routes.js';
import { EnvName, EnvValue } from './sandboxes.js';

/**
 * Sessions: sandboxes for programs, with no host folder. A session has a fresh workspace (size-capped, removed with
 * it), an idle TTL and an absolute TTL, and belongs to the token (or socket user) that created it.
 */
export const SESSION_ID_PATTERN = /^ses_[0-9a-f]{12,32}$/;
export const SessionId = z.string().regex(SESSION_ID_PATTERN, 'a session id (ses_…)');

/** A path inside the session's workspace: relative to /workspace, or absolute under /workspace. */
export const WorkspacePath = z
  .string()
  .min(1)
  .max(4096)
  .describe('Relative to /workspace, or an absolute path under /workspace; no ".." segments.');

export const SessionFileContent = z
  .object({
    path: WorkspacePath,
    content: z.string().max(8 * 1024 * 1024),
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
    mode: z
      .number()
      .int()
      .min(0)
      .max(0o777)
      .optional()
      .describe('Permission bits, e.g. 493 (0755) for a script.'),
  })
  .strict();
export type SessionFileContent = z.input<typeof SessionFileContent>;

export const CreateSessionRequest = z
  .object({
    profile: z.string().min(1).max(63).default('session').describe('Security profile from profiles/.'),
    ttlSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Absolute lifetime; capped by the daemon (sessions.maxTtlSeconds).'),
    idleTtlSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Removed after this long without a request; capped by the daemon.'),
    env: z.record(EnvName, EnvValue).default({}).describe('Environment of every exec in the session.'),
    files: z
      .array(SessionFileContent)
      .max(1000)
      .default([])
      .describe('Written into the workspace at create.'),
  })
  .strict();
export type CreateSessionRequest = z.input<typeof CreateSessionRequest>;

export const SessionState = z.enum(['creating', 'running', 'removing', 'failed']);
export type SessionState = z.infer<typeof SessionState>;

export const SessionReport = z.object({
  id: z.string(),
  state: SessionState,
  profile: z.string(),
  createdAt: z.string(),
  lastActivityAt: z.string(),
  expiresAt: z.string().describe('Absolute TTL deadline.'),
  idleExpiresAt: z.string().describe('When it goes if nothing uses it before.'),
  owner: z.string().describe('tok_… for a token, uid:N for a socket user.'),
  team: z.string().optional(),
  warm: z.boolean().default(false).describe('Claimed from the warm pool.'),
});
export type SessionReport = z.infer<typeof SessionReport>;

export const SessionList = z.object({ sessions: z.array(SessionReport) });
export type SessionList = z.infer<typeof SessionList>;

export const SessionRemovedReport = z.object({ removed: z.string() });
export type SessionRemovedReport = z.infer<typeof SessionRemovedReport>;

export const SessionExecRequest = z
  .object({
    cmd: z.array(z.string()).min(1).describe('argv to run inside the session'),
    env: z.record(EnvName, EnvValue).default({}),
    workdir: z.string().optional().describe('Default /workspace.'),
    timeoutSeconds: z.number().positive().max(3600).default(60),
  })
  .strict();
export type SessionExecRequest = z.input<typeof SessionExecRequest>;

export const SessionExecResult = z.object({
  exitCode: z.number().int().describe('137 when the timeout killed the command (timedOut: true).'),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean().default(false),
  timedOut: z.boolean().default(false),
  durationMs: z.number(),
});
export type SessionExecResult = z.infer<typeof SessionExecResult>;

export const FileEntry = z.object({
  name: z.string(),
  path: z.string().describe('Relative to /workspace.'),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  size: z.number().int(),
  mode: z.number().int(),
  mtime: z.string(),
});
export type FileEntry = z.infer<typeof FileEntry>;

export const FileList = z.object({ path: z.string(), entries: z.array(FileEntry) });
export type FileList = z.infer<typeof FileList>;

export const FileWrittenReport = z.object({ path: z.string(), bytes: z.number().int() });
export type FileWrittenReport = z.infer<typeof FileWrittenReport>;

export const TarExtractedReport = z.object({
  path: z.string(),
  files: z.number().int(),
  directories: z.number().int(),
  bytes: z.number().int(),
});
export type TarExtractedReport = z.infer<typeof TarExtractedReport>;

export const FileRemovedReport = z.object({ removed: z.string() });
export type FileRemovedReport = z.infer<typeof FileRemovedReport>;

/** The query of every file route: which path, and for DELETE whether a folder goes with what is in it. */
export const FileQuery = z
  .object({
    path: WorkspacePath,
    recursive: z.enum(['true', 'false']).optional(),
    mode: z
      .string()
      .regex(/^[0-7]{3,4}$/)
      .optional(),
  })
  .strict();
export type FileQuery = z.infer<typeof FileQuery>;

// The session-sandbox API programs already use (`POST /create_session`, `/execute`, `/cleanup`), so an existing
// client works by changing its base URL. snake_case on purpose: that is its wire format.
export const CompatCreateSessionRequest = z
  .object({
    profile: z.string().min(1).max(63).optional(),
    ttl: z.number().int().positive().optional().describe('Seconds; absolute TTL.'),
  })
  .strip();
export const CompatCreateSessionResponse = z.object({ session_id: z.string() });
export const CompatExecuteRequest = z
  .object({
    session_id: z.string().min(1),
    command: z.string().min(1).describe('Run with /bin/sh -c in /workspace.'),
    timeout: z.number().positive().max(3600).optional().describe('Seconds (default 60).'),
  })
  .strip();
export const CompatExecuteResponse = z.object({
  exit_code: z.number().int(),
  output: z.string().describe('stdout then stderr.'),
});
export const CompatCleanupRequest = z.object({ session_id: z.string().min(1) }).strip();
export const CompatCleanupResponse = z.object({ session_id: z.string(), status: z.literal('cleaned') });

/** The session API's routes (`:id` filled in by clients, percent-encoded), from the one table in routes.ts. */
export const SESSION_ROUTES = {
  ...API_ROUTES.sessions,
  compatCreate: API_ROUTES.compat.create,
  compatExecute: API_ROUTES.compat.execute,
  compatCleanup: API_ROUTES.compat.cleanup,
  metrics: API_ROUTES.system.metrics,
  openapi: API_ROUTES.system.openapi,
} as const;

/** The stable codes of session refusals (src/sessions/errors.ts; a test keeps the two equal). */
export const SESSION_ERROR_CODES = [
  'SESSION_NOT_FOUND',
  'SESSION_PATH_INVALID',
  'SESSION_PATH_ESCAPE',
  'SESSION_PATH_NOT_FOUND',
  'SESSION_PATH_NOT_FILE',
  'SESSION_PATH_NOT_DIR',
  'SESSION_DIR_NOT_EMPTY',
  'SESSION_FILE_TOO_LARGE',
  'SESSION_WORKSPACE_FULL',
  'SESSION_TAR_INVALID',
  'SESSION_TAR_ENTRY_REFUSED',
  'SESSION_QUOTA',
  'SESSION_RATE_LIMITED',
] as const;
export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];
