export { packErrors } from './errors.js';
export {
  PackManifest,
  parseManifest,
  expand,
  parseEgressNeed,
  PACKS_MOUNT,
  MCP_INDEX_PATH,
  PACK_NAME,
  type ManifestProblem,
  type PackVersionSpec,
} from './manifest.js';
export { PackRegistry, parseRef, formatProblems, type ResolvedPack } from './registry.js';
export {
  buildPack,
  listArtifacts,
  artifactName,
  sourcesKey,
  type BuiltPack,
  type PackBuildProgress,
} from './build.js';
export { packEnv, DEFAULT_SANDBOX_PATH, type InstalledPack } from './env.js';
export type { BuilderSandbox } from './build.js';
export {
  DEBIAN_SUITES,
  BASE_SUITE,
  isDebianSuite,
  aptSourcesList,
  aptRequest,
  type DebianSuite,
} from './suites.js';
