import { defineErrors } from '../shared/index.js';

/** Stable error codes of companion services (aibox/services.yaml). Codes never change meaning once shipped. */
export const companionErrors = defineErrors({
  COMPANION_SPEC_INVALID: {
    status: 400,
    hint: "Fix aibox/services.yaml at the line shown: each service has a name, a pack, a port (1024-65535) and optionally command, env, data and limits (memoryMiB, cpus, pids: at most the sandbox profile's).",
  },
  COMPANION_UNSAFE: {
    status: 400,
    hint: 'aibox/services.yaml must be a regular file (not a link, FIFO or device) of at most 64 KiB in the real aibox/ folder of the project owner.',
  },
  COMPANION_PORT_TAKEN: {
    status: 409,
    hint: 'Each service needs its own port, not one aibox keeps for itself: change the port in aibox/services.yaml.',
  },
  COMPANION_EGRESS_REFUSED: {
    status: 403,
    hint: 'Companion services have no egress at all: remove `egress` from the service in aibox/services.yaml (the agent reaches the service; the service reaches nothing).',
  },
  COMPANION_START_FAILED: {
    status: 500,
    hint: 'A companion service of aibox/services.yaml did not start: the message names the service and ends with its log. Fix its command or pack, then start the sandbox again.',
  },
  COMPANION_LOST: {
    status: 500,
    hint: 'A companion service was gone, or its private link was not as its start made it, when the daemon restarted: the sandbox was stopped and its companions removed (fail closed). Start the sandbox again.',
  },
});
