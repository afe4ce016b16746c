import { defineErrors } from '../shared/index.js';

/** Stable error codes of devcontainer.json support. Codes never change meaning once shipped. */
export const devcontainerErrors = defineErrors({
  DEVCONTAINER_INVALID: {
    status: 400,
    hint: 'Fix devcontainer.json at the line and column shown (comments and trailing commas are fine), or start with --no-devcontainer.',
  },
  DEVCONTAINER_UNSAFE: {
    status: 400,
    hint: 'devcontainer.json must be a regular file (not a link, FIFO or device) of at most 256 KiB in a real .devcontainer/ folder of the project owner.',
  },
  DEVCONTAINER_REMOTE_USER: {
    status: 400,
    hint: 'Commands in an aibox sandbox run as its one non-root user: set remoteUser/containerUser to "agent" (or "vscode", "node", "codespace", which map to it) or leave them out, or start with --no-devcontainer.',
  },
  DEVCONTAINER_ENV_INVALID: {
    status: 400,
    hint: 'containerEnv/remoteEnv take portable names ([A-Za-z_][A-Za-z0-9_]*), no NUL, at most 128 variables and 64 KiB, and may not set the variables aibox sets (proxies, PATH, HOME, AIBOX_*).',
  },
});
