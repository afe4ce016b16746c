import { defineErrors } from '../shared/index.js';

/** Errors the CLI detects itself, before or instead of asking the daemon. */
export const cliErrors = defineErrors({
  CLI_USAGE: { status: 400, hint: 'run `aibox <command> --help` for the accepted arguments and options' },
  CLI_INVALID_NAME: {
    status: 400,
    hint: 'use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63 characters',
  },
  CLI_PATH_NOT_FOUND: {
    status: 400,
    hint: 'pass the path of an existing project folder (default: the current directory)',
  },
  CLI_PATH_NOT_DIRECTORY: { status: 400, hint: 'pass a folder, not a file: it is mounted at /workspace' },
  CLI_INVALID_ENV: { status: 400, hint: 'pass environment variables as -e KEY=VALUE' },
  CLI_INTERNAL: {
    status: 500,
    hint: 'this is a bug in aibox; re-run with AIBOX_DEBUG=1 to see the stack and report it',
  },
  POLICY_FILE_UNREADABLE: { status: 400, hint: 'check the path exists and is readable' },
  POLICY_INPUT_INVALID: { status: 400, hint: 'the input file must hold one JSON (or YAML) document' },
  POLICY_EVAL_FAILED: { status: 400, hint: 'fix the Rego error at the location shown, then re-run' },
  POLICY_TESTS_FAILED: { status: 400, hint: 'run with -v to see each test and its result' },
});

/** Codes that are usage errors (exit 2): the arguments were wrong, the daemon was not asked. */
export const USAGE_CODES: ReadonlySet<string> = new Set([
  'CLI_USAGE',
  'CLI_INVALID_NAME',
  'CLI_PATH_NOT_FOUND',
  'CLI_PATH_NOT_DIRECTORY',
  'CLI_INVALID_ENV',
]);
