import { defineErrors } from '../shared/index.js';

/** Stable error codes of the shared package cache (what a sandbox's package manager sees in a refusal). */
export const packageCacheErrors = defineErrors({
  PACKAGE_CACHE_EGRESS_DENIED: {
    status: 403,
    hint: "The sandbox's egress policy does not allow this registry; ask for its host in the project policy (network.allow) or the org's mirrors, then retry.",
  },
  PACKAGE_CACHE_NOT_FOUND: {
    status: 404,
    hint: 'The registry has no such package, version or file; check the name and version in package.json or the lockfile.',
  },
  PACKAGE_CACHE_BAD_REQUEST: {
    status: 400,
    hint: 'Ask the cache for packuments and tarballs only (GET), with plain npm package names and file names.',
  },
  PACKAGE_CACHE_READ_ONLY: {
    status: 405,
    hint: 'The shared package cache is read-only: publishing or uploading through it is not possible.',
  },
  PACKAGE_CACHE_INTEGRITY_MISMATCH: {
    status: 502,
    hint: "The registry sent content that does not match the integrity its own metadata declares; nothing was cached. Report it to the registry's operator and retry later.",
  },
  PACKAGE_CACHE_UPSTREAM_FAILED: {
    status: 502,
    hint: 'The upstream registry could not be reached or answered an error; check packageCache.<registry>.upstream in aiboxd.yaml and the host network.',
  },
  PACKAGE_CACHE_TOO_LARGE: {
    status: 502,
    hint: 'The file is larger than the cache accepts (packageCache.maxFileMiB); raise the limit in aiboxd.yaml if it is expected.',
  },
  PACKAGE_CACHE_START_FAILED: {
    status: 500,
    hint: 'The package cache could not listen on the loopback or prepare its folder; check free ports and the cache directory.',
  },
});
