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
});
