import { defineErrors } from '../shared/index.js';

export const runtimeErrors = defineErrors({
  RUNTIME_USER_MISSING: {
    status: 503,
    hint: 'Run `sudo scripts/setup-host.sh` (or `aibox setup`) to create the unprivileged aibox user.',
  },
  RUNTIME_RUNSC_MISSING: { status: 503, hint: 'Run `sudo scripts/setup-host.sh` to install gVisor runsc.' },
  RUNTIME_PODMAN_SERVICE: {
    status: 503,
    hint: 'See the podman service log in the state directory (podman/service.log); `aibox doctor` checks each prerequisite.',
  },
  RUNTIME_IMAGE_MISSING: { status: 409, hint: 'Build the base image first: `aibox setup`.' },
  RUNTIME_IMAGE_BUILD: {
    status: 502,
    hint: 'Check that deb.debian.org is reachable and see the build log in the image cache directory.',
  },
  RUNTIME_WORKSPACE_MOUNT: {
    status: 500,
    hint: 'The kernel must support idmapped mounts (Linux 5.12+ on ext4/xfs/btrfs); `aibox doctor` checks it.',
  },
  RUNTIME_LIMITS: {
    status: 500,
    hint: 'aiboxd must run as root on a host with the pids, memory and cpu cgroup controllers.',
  },
  RUNTIME_CONTAINER: { status: 502, hint: 'See `aibox logs NAME` and the daemon log.' },
  RUNTIME_EXEC: { status: 502, hint: 'The sandbox may have stopped: `aibox status NAME`.' },
  RUNTIME_SECCOMP: {
    status: 500,
    hint: 'Install python3-seccomp (scripts/setup-host.sh) and check the profile JSON.',
  },
});
