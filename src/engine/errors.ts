import { defineErrors } from '../shared/index.js';

/** Stable error codes of the container engine (docs/container-engine.md). Codes never change meaning once shipped. */
export const engineErrors = defineErrors({
  ENGINE_RUN_UNSUPPORTED: {
    status: 403,
    hint: 'Containers cannot be run inside gVisor on this host (no nested OCI runtime starts there): the engine builds images only. Run databases and other services as companion services (aibox/services.yaml).',
  },
  ENGINE_MOUNT_REFUSED: {
    status: 403,
    hint: 'The engine never mounts a path (bind mounts, build volumes, devices): put what the build needs into its context and COPY it.',
  },
  ENGINE_PRIVILEGED_REFUSED: {
    status: 403,
    hint: 'The engine refuses privileged containers: drop --privileged.',
  },
  ENGINE_HOST_NETWORK_REFUSED: {
    status: 403,
    hint: 'The engine has no network of its own, and never the host network: drop --network host (builds run network-less).',
  },
  ENGINE_ENDPOINT_REFUSED: {
    status: 403,
    hint: 'Only image builds and the image endpoints (list, inspect, tag, remove), ping, version and info are open: other engine endpoints are refused.',
  },
  ENGINE_START_FAILED: {
    status: 500,
    hint: 'The container engine sandbox did not start: the message says at which step. Start the sandbox again; `aibox doctor` checks the runtime.',
  },
  ENGINE_ADOPT_FAILED: {
    status: 500,
    hint: "After a daemon restart the sandbox's container engine could not be re-attached (the message says why), so the sandbox was stopped with it: start the sandbox again.",
  },
  ENGINE_DISK_FULL: {
    status: 507,
    hint: "The engine's disk (its images, layers and build steps; a hard cap set by the profile's containerEngineDiskMiB) is full: remove images you no longer need (podman rmi), write less in RUN steps, or ask for a profile with a larger engine disk.",
  },
  ENGINE_IMAGE_BUILD: {
    status: 500,
    hint: 'The engine image (the aibox base image plus Podman) could not be built: run `aibox setup` first, check the Debian mirror is reachable, then start the sandbox again.',
  },
});

export type EngineErrorCode = keyof typeof engineErrors.catalogue;
