import { defineErrors } from '../shared/errors.js';

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
  PACK_SANDBOX_REQUIRED: {
    status: 400,
    hint: 'Name the sandbox with --sandbox NAME (`aibox list` shows them); it may be left out only when you have exactly one.',
  },
  PACK_LINT_FAILED: {
    status: 400,
    hint: 'Fix the manifests at the files and lines shown, then run `aibox pack lint` again.',
  },
  SSH_KEY_FILE_UNREADABLE: {
    status: 400,
    hint: 'pass the path of a readable public key file such as ~/.ssh/id_ed25519.pub',
  },
  SSH_NO_KEY_FOUND: {
    status: 400,
    hint: 'create one with `ssh-keygen -t ed25519`, then `aibox ssh-key add ~/.ssh/id_ed25519.pub`',
  },
  SSH_KEY_CHOICE_NEEDED: {
    status: 400,
    hint: 'several public keys are in ~/.ssh: pass the one to use, e.g. `aibox ssh-key add ~/.ssh/id_ed25519.pub`',
  },
  SSH_CONFIG_WRITE_FAILED: {
    status: 400,
    hint: 'check that ~/.ssh/config is writable by you (or print the block with `aibox ssh-config` and paste it)',
  },
});

/** Codes that are usage errors (exit 2): the arguments were wrong, the daemon was not asked. */
export const USAGE_CODES: ReadonlySet<string> = new Set([
  'CLI_USAGE',
  'CLI_INVALID_NAME',
  'CLI_PATH_NOT_FOUND',
  'CLI_PATH_NOT_DIRECTORY',
  'CLI_INVALID_ENV',
]);
