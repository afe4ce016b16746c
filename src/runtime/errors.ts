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
  SANDBOX_PATH_SYMLINK: {
    status: 400,
    hint: 'aibox never follows symbolic links in host paths: give the real path (`realpath PATH`), with no link at any component.',
  },
  SANDBOX_PATH_CHANGED: {
    status: 409,
    hint: 'The project folder was replaced (moved, or swapped for another folder or a link) since the sandbox was created; nothing was mounted. Check the folder, then `aibox rm NAME` and create the sandbox again.',
  },
  SANDBOX_PATH_ROOT_OWNED: {
    status: 400,
    hint: 'Files the agent writes would land on the host owned by root (set-uid programs included). Give the folder to an unprivileged user (`sudo chown -R USER: PATH`) and create the sandbox as that user.',
  },
  SANDBOX_PATH_ACCESS: {
    status: 403,
    hint: 'A sandbox can only be created on a folder you can yourself read, write and enter: check `ls -ld PATH` and each parent folder.',
  },
  RUNTIME_MOUNT_REFUSED: {
    status: 409,
    hint: 'A path aibox mounts into the sandbox (a read-only .git path or worktree metadata) is a symbolic link, missing or replaced; nothing was mounted. Inspect it on the host, fix or remove it, and start again.',
  },
  RUNTIME_SECCOMP: {
    status: 500,
    hint: 'Install python3-seccomp (scripts/setup-host.sh) and check the profile JSON.',
  },
  RUNTIME_AGENT_UNAVAILABLE: {
    status: 503,
    hint: "The sandbox's exec agent did not answer; the sandbox was stopped (fail closed). `aibox start NAME` brings it back; `aibox logs NAME` shows why.",
  },
  RUNTIME_AGENT_LOST: {
    status: 503,
    hint: "The connection to the sandbox's exec agent broke while the command ran; the command was killed. Run it again (the daemon reconnects or stops the sandbox).",
  },
  RUNTIME_EXEC_BAD_REQUEST: {
    status: 400,
    hint: 'Check the command: no NUL bytes, a non-empty argv, known signal names, at most 1 MiB of arguments and environment.',
  },
  RUNTIME_EXEC_STDIN_TOO_LARGE: {
    status: 413,
    hint: 'The command is not reading its input: send stdin as the command consumes it (at most 8 MiB queued).',
  },
  RUNTIME_PROCESS_NOT_FOUND: { status: 404, hint: 'List the processes again: the process has exited.' },
});
