import { defineErrors } from '../shared/index.js';

export const daemonErrors = defineErrors({
  SANDBOX_NOT_FOUND: { status: 404, hint: 'List sandboxes with `aibox list`.' },
  SANDBOX_NAME_TAKEN: {
    status: 409,
    hint: 'Choose another --name, or remove the old one with `aibox rm NAME`.',
  },
  SANDBOX_NAME_INVALID: {
    status: 400,
    hint: 'Use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit (max 63).',
  },
  SANDBOX_PATH_NOT_FOUND: { status: 400, hint: 'Give an existing project directory (absolute path).' },
  SANDBOX_PATH_INVALID: {
    status: 400,
    hint: 'Give a project directory, not a file, and not / or a system directory.',
  },
  SANDBOX_NOT_RUNNING: {
    status: 409,
    hint: 'Start it with `aibox start --name NAME` or check `aibox status NAME`.',
  },
  SANDBOX_BUSY: { status: 409, hint: 'Another operation on this sandbox is in progress; retry in a moment.' },
  SANDBOX_LAYER_FAILED: {
    status: 503,
    hint: 'The sandbox was not started because an enforcement layer could not be set up; `aibox doctor` says how to fix it.',
  },
  DAEMON_ALREADY_RUNNING: {
    status: 409,
    hint: 'Use the running daemon (`aibox status`), or give this one its own --state-dir and --socket.',
  },
  API_INVALID_REQUEST: {
    status: 400,
    hint: 'Fix the named field; `aibox <command> --help` lists the accepted values.',
  },
  API_BAD_REQUEST: { status: 400, hint: 'Send a JSON body that matches the API contract (src/shared/api).' },
  API_ROUTE_NOT_FOUND: {
    status: 404,
    hint: 'Check the aibox CLI and daemon versions match (`aibox version`).',
  },
  DAEMON_INTERNAL: { status: 500, hint: 'See the daemon log for details; this is a bug worth reporting.' },
  EXEC_INVALID: { status: 400, hint: 'Pass the command after `--`: aibox exec NAME -- CMD ARGS…' },
  SANDBOX_PROCESS_PROTECTED: {
    status: 403,
    hint: "Only the sandbox user's own processes can be signalled: not the exec agent, not a root process (`aibox ps NAME` shows the uid).",
  },
  EXEC_WORKDIR_NOT_FOUND: {
    status: 400,
    hint: 'Give an existing directory inside the sandbox with -w (default: /workspace).',
  },
  SANDBOX_FORBIDDEN: {
    status: 403,
    hint: 'A sandbox belongs to the user who created it: only that user or root may act on it.',
  },
  API_ROOT_ONLY: {
    status: 403,
    hint: 'This changes the daemon for every user: run it as root (sudo aibox …).',
  },
  API_CALLER_UNKNOWN: {
    status: 401,
    hint: 'Connect to the unix socket directly: aiboxd identifies callers by their socket credentials.',
  },
  DAEMON_PEERCRED_MISSING: {
    status: 500,
    hint: 'Build aibox with `npm run build` (it compiles native/peercred with the C compiler and Node headers).',
  },
  API_BAD_URL: { status: 400, hint: 'Percent-encode the URL as UTF-8; sandbox names are short ASCII words.' },
  API_URL_TOO_LONG: { status: 414, hint: 'Names in the URL are at most 100 characters (sandbox names 63).' },
  API_HEADERS_TOO_LARGE: { status: 431, hint: 'Send fewer or shorter headers (16 KiB in all).' },
  API_REQUEST_TIMEOUT: {
    status: 408,
    hint: 'Send the whole request promptly; aiboxd closes connections that stall.',
  },
  API_UPGRADE_REFUSED: {
    status: 400,
    hint: 'Only /v1/sandboxes/NAME/exec/ws accepts a WebSocket upgrade; use plain HTTP for other routes.',
  },
  API_UPGRADE_REQUIRED: {
    status: 426,
    hint: 'Open this route as a WebSocket (`aibox exec` does), or use POST /v1/sandboxes/NAME/exec.',
  },
});

// The dashboard's codes, listed with the daemon's (docs/errors.md is generated from this module's exports).
export { dashboardErrors } from './dashboard/errors.js';
