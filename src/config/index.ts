export { DaemonConfig } from './schema.js';

export { ProfileFile, type Profile } from './profile.js';
export { loadDaemonConfig, loadProfile, listProfiles, PACKAGE_ROOT, DEFAULT_CONFIG_FILE } from './load.js';
export { configErrors } from './errors.js';
export { RuntimeConfig } from './runtime-config.js';
export { PoolConfig, PoolProfileConfig } from './pool-config.js';
