import { z } from 'zod';

/** A pack reference: NAME or NAME@VERSION. */
export const PackRef = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9.-]{0,62}(@[A-Za-z0-9][A-Za-z0-9.+~-]{0,63})?$/,
    'a pack name, optionally @VERSION',
  );

export const PackManifestReport = z.looseObject({
  name: z.string(),
  description: z.string(),
  kind: z.enum(['tool', 'mcp']),
  default: z.string(),
  requires: z.array(z.string()),
  versions: z.record(z.string(), z.unknown()),
});

export const BuiltPackReport = z.object({
  name: z.string(),
  version: z.string(),
  key: z.string().describe('content address of the artifact (sha256 of its resolved inputs)'),
  dir: z.string(),
  debs: z.array(z.string()),
  builtAt: z.string(),
  sizeBytes: z.number(),
});
export type BuiltPackReport = z.infer<typeof BuiltPackReport>;

export const PackCatalogue = z.object({
  packs: z.array(PackManifestReport),
  built: z.array(BuiltPackReport),
  problems: z.array(z.string()).describe('broken manifests, as FILE:LINE: message'),
});
export type PackCatalogue = z.infer<typeof PackCatalogue>;

/** DELETE /v1/packs/:ref: the NAME@VERSION entries removed from the cache. */
export const RemovedPackList = z.object({ removed: z.array(z.string()) });
export type RemovedPackList = z.infer<typeof RemovedPackList>;

export const PackBuildRequest = z.object({ ref: PackRef, force: z.boolean().default(false) }).strict();

/** NDJSON lines of POST /v1/packs/build. */
export const PackBuildEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), phase: z.string(), percent: z.number(), message: z.string() }),
  z.object({ type: z.literal('done'), cached: z.boolean(), ms: z.number(), built: BuiltPackReport }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), hint: z.string() }),
  }),
]);
export type PackBuildEvent = z.infer<typeof PackBuildEvent>;

export const InstalledPackReport = z.object({
  name: z.string(),
  version: z.string(),
  key: z.string(),
  kind: z.enum(['tool', 'mcp']),
  installedAt: z.string(),
  mcpEnabled: z.boolean(),
  path: z.string(),
  /** The pack's run-time egress needs the egress door allowed at install, with the decision ids. */
  egress: z.array(z.object({ host: z.string(), port: z.number(), decision: z.string() })).optional(),
  /** `project`: installed at start because the project's aibox/policy.yaml lists it. */
  via: z.enum(['api', 'project']).optional(),
});
export type InstalledPackReport = z.infer<typeof InstalledPackReport>;

export const InstalledPackList = z.object({ sandbox: z.string(), packs: z.array(InstalledPackReport) });
export type InstalledPackList = z.infer<typeof InstalledPackList>;

export const InstallPackRequest = z.object({ ref: PackRef }).strict();
export const InstallPackResult = z.object({
  sandbox: z.string(),
  installed: z.array(InstalledPackReport),
  decisions: z.array(z.string()),
  ms: z.number(),
});
export type InstallPackResult = z.infer<typeof InstallPackResult>;

export const McpServerList = z.object({
  sandbox: z.string(),
  index: z.string().describe('the index file inside the sandbox'),
  servers: z.record(z.string(), z.object({ command: z.string(), args: z.array(z.string()) })),
});
export type McpServerList = z.infer<typeof McpServerList>;

export const McpEnableResult = z.object({
  sandbox: z.string(),
  enabled: z.string(),
  installed: z.array(z.string()),
});
export type McpEnableResult = z.infer<typeof McpEnableResult>;

export const PackSmokeResult = z.object({
  sandbox: z.string(),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
});
export type PackSmokeResult = z.infer<typeof PackSmokeResult>;

export const PackLintReport = z.object({
  dir: z.string(),
  packs: z.array(z.string()),
  problems: z.array(z.string()).describe('FILE:LINE: message'),
});
export type PackLintReport = z.infer<typeof PackLintReport>;
