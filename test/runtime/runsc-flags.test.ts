import { describe, expect, it } from 'vitest';
import { runscFlags } from '../../src/runtime/podman-service.js';

describe('runsc flags of every sandbox', () => {
  it('keeps seccomp, the systrap platform, the sandbox netns and the agent socket folder', () => {
    expect(runscFlags(false)).toEqual([
      '--network=host',
      '--host-uds=create',
      '--oci-seccomp',
      '--platform=systrap',
    ]);
  });

  it('never caches bind mounts exclusively and never lets the sandbox open host sockets', () => {
    for (const rootless of [false, true]) {
      const flags = runscFlags(rootless);
      // Exclusive file access for mounts would hide host edits of the workspace and newly installed packs.
      expect(flags.filter((f) => f.startsWith('--file-access'))).toEqual([]);
      expect(flags.filter((f) => f.startsWith('--host-uds'))).toEqual(['--host-uds=create']);
    }
  });

  it('lets rootless runsc skip the cgroups it cannot manage', () => {
    expect(runscFlags(true)).toEqual([...runscFlags(false), '--ignore-cgroups']);
  });
});
