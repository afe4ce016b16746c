export { PackageCacheConfig, type RegistryConfig } from './config.js';
export { packageCacheErrors } from './errors.js';
export { PackageCache, type EgressDoor, type PackageCacheOptions } from './server.js';
export { ContentStore, type ExpectedDigests } from './store.js';
export { NpmRegistry, digestsOf } from './npm.js';
export { PypiRegistry } from './pypi.js';
export { nodeFetch, type UpstreamFetch } from './upstream.js';
export { MavenRegistry, MAVEN_PREFIX, parsePath as parseMavenPath } from './maven.js';
export { mavenSettingsXml, MAVEN_SETTINGS_SCRIPT, MAVEN_SETTINGS_MARKER } from './maven-settings.js';
