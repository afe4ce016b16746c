import { describe, expect, it } from 'vitest';
import { RUNSC_DENTRY_CACHE, runscFlags } from '../../src/runtime/podman-service.js';

describe('runsc flags of every sandbox', () => {
  it('keeps the protections and the platform, and sizes one dentry cache for the whole sandbox', () => {
    const flags = runscFlags(false);
    expect(flags).toEqual(
      expect.arrayContaining(['--oci-seccomp', '--platform=systrap', '--network=host', '--host-uds=create']),
    );
    expect(flags).toContain(`--dcache=${RUNSC_DENTRY_CACHE}`);
    expect(RUNSC_DENTRY_CACHE).toBeGreaterThan(1000);
    // Each cached dentry holds a host fd: the cache must leave room under the sandbox's RLIMIT_NOFILE (20000).
    expect(RUNSC_DENTRY_CACHE).toBeLessThanOrEqual(10000);
    expect(flags).not.toContain('--ignore-cgroups');
  });

  it('never caches bind mounts exclusively: the workspace must show host edits at once', () => {
    for (const rootless of [false, true]) {
      const flags = runscFlags(rootless);
      expect(flags.filter((f) => f.startsWith('--file-access'))).toEqual([]);
      expect(flags).not.toContain('--host-uds=all');
      expect(flags).not.toContain('--host-uds=open');
    }
  });

  it('lets rootless runsc skip the cgroups it cannot manage', () => {
    expect(runscFlags(true)).toContain('--ignore-cgroups');
  });
});
