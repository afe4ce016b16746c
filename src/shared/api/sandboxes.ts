import { z } from 'zod';
import { SANDBOX_NAME_PATTERN } from '../ids.js';
import { ENV_NAME_PATTERN } from './names.js';

export const SandboxName = z
  .string()
  .regex(
    SANDBOX_NAME_PATTERN,
    'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63 characters',
  )
  .describe('Sandbox name: what users type, the ssh user name, a label on every resource.');

export const SandboxState = z.enum(['creating', 'running', 'stopped', 'failed']);
export type SandboxState = z.infer<typeof SandboxState>;

export const CreateSandboxRequest = z
  .object({
    path: z.string().min(1).describe('Absolute host path of the project folder mounted at /workspace.'),
    name: SandboxName.optional(),
    profile: z.string().min(1).default('default').describe('Security profile from profiles/.'),
    devcontainer: z
      .boolean()
      .optional()
      .describe("false: ignore the project's devcontainer.json (applied by default when present)."),
  })
  .strict();
export type CreateSandboxRequest = z.infer<typeof CreateSandboxRequest>;

/**
 * `POST /v1/sandboxes` without `path`: a sandbox with no host folder. Its workspace is fresh (a size-capped tmpfs
 * removed with the sandbox); it is claimed from the warm pool when one is ready (and no name is asked for).
 */
export const CreateEphemeralSandboxRequest = z
  .object({
    name: SandboxName.optional(),
    profile: z.string().min(1).default('session').describe('Security profile from profiles/.'),
  })
  .strict();
export type CreateEphemeralSandboxRequest = z.infer<typeof CreateEphemeralSandboxRequest>;

export const Protection = z.object({
  layer: z.string(),
  state: z.enum(['on', 'off']),
  detail: z.string(),
});
export type Protection = z.infer<typeof Protection>;

/** What a start did with the project's devcontainer.json (in the create and start answers only). */
export const DevcontainerSummary = z.object({
  file: z.string(),
  keys: z.array(
    z.object({
      key: z.string(),
      status: z.enum(['honoured', 'mapped', 'ignored', 'unsupported']),
      detail: z.string(),
    }),
  ),
  warnings: z.array(z.string()),
  packs: z.array(z.string()),
  forwardPorts: z.array(z.number().int()),
  commands: z.array(
    z.object({
      from: z.string(),
      phase: z.string(),
      exitCode: z.number().int().optional(),
      timedOut: z.boolean().optional(),
      /** The exec door's refusal (the commands after it did not run). */
      refused: z.string().optional(),
      /** The tail of its output. */
      output: z.string().optional(),
    }),
  ),
});
export type DevcontainerSummary = z.infer<typeof DevcontainerSummary>;

/** One companion service of a sandbox (aibox/services.yaml) with its health. */
export const CompanionServiceStatus = z.object({
  service: z.string(),
  pack: z.string(),
  port: z.number().int(),
  state: z.enum(['running', 'restarting', 'failed', 'stopped']),
  /** Restarts the daemon made after its command ended. */
  restarts: z.number().int(),
  lastExitCode: z.number().int().optional(),
  /** Why it is failed or stopped. */
  reason: z.string().optional(),
});
export type CompanionServiceStatus = z.infer<typeof CompanionServiceStatus>;

export const SandboxReport = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  profile: z.string(),
  state: SandboxState,
  image: z.string(),
  runtime: z.string(),
  mode: z.enum(['rootless', 'rootful']),
  containerId: z.string().optional(),
  createdAt: z.string(),
  /** Why a sandbox that did not stop on request is not running (OOM kill, exit code). */
  reason: z.string().optional(),
  protections: z.array(Protection),
  endpoints: z.record(z.string(), z.string()).default({}),
  devcontainer: DevcontainerSummary.optional(),
  /** Its companion services (aibox/services.yaml) and their health, while it runs. */
  services: z.array(CompanionServiceStatus).optional(),
  /** Who it belongs to: the creating user's name (`uid N` without a passwd entry), or `token NAME` for a session. */
  owner: z.string().optional(),
});
export type SandboxReport = z.infer<typeof SandboxReport>;

/** GET /v1/sandboxes. */
export const SandboxList = z.object({ sandboxes: z.array(SandboxReport) });
export type SandboxList = z.infer<typeof SandboxList>;

/** DELETE /v1/sandboxes/:name. */
export const RemovedReport = z.object({ removed: z.string() });
export type RemovedReport = z.infer<typeof RemovedReport>;

/** Portable environment variable names (the pattern lives in names.ts, without zod, for the CLI). */
export { ENV_NAME_PATTERN };
export const EnvName = z
  .string()
  .regex(ENV_NAME_PATTERN, 'an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');
export const EnvValue = z
  .string()
  .refine((v) => !v.includes('\0'), 'an environment value cannot contain NUL');

export const ExecRequest = z
  .object({
    cmd: z.array(z.string()).min(1).describe('argv to run inside the sandbox'),
    tty: z.boolean().default(false),
    stdin: z.boolean().default(false),
    env: z.record(EnvName, EnvValue).default({}),
    workdir: z.string().optional(),
    cols: z.number().int().positive().optional(),
    rows: z.number().int().positive().optional(),
    timeoutSeconds: z
      .number()
      .positive()
      .max(86_400)
      .optional()
      .describe("Kill the command's whole process group after this many seconds (exit 137, timedOut)."),
  })
  .strict();
export type ExecRequest = z.infer<typeof ExecRequest>;
