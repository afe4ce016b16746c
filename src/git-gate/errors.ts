import { defineErrors } from '../shared/index.js';

/** Stable error codes of the git gateway, pushes and tasks. Codes never change meaning once shipped. */
export const gitGateErrors = defineErrors({
  GIT_REPO_NOT_CONFIGURED: {
    status: 404,
    hint: 'Add the repository to git.repos in the daemon config (name and upstream URL), then retry.',
  },
  GIT_REPO_NOT_ALLOWED: {
    status: 403,
    hint: 'Policy does not allow this sandbox to use the repository; ask for it in the project policy (git.repos).',
  },
  GIT_INVALID_REPO_NAME: {
    status: 400,
    hint: 'Repository names are path segments of letters, digits, ".", "_" and "-" (e.g. acme/widgets).',
  },
  GIT_UPSTREAM_FAILED: {
    status: 502,
    hint: 'The upstream git server refused or could not be reached; check git.repos[].upstream and its credential.',
  },
  GIT_CREDENTIAL_MISSING: {
    status: 503,
    hint: 'The credential named in git.repos[].credential is not in the credential store; add it (aibox secret set).',
  },
  GIT_GATEWAY_START_FAILED: {
    status: 500,
    hint: 'The git gateway could not listen on the loopback; check that the port is free and git is installed.',
  },
  GIT_GATEWAY_UNAUTHORIZED: {
    status: 401,
    hint: "Use git from inside the sandbox: its git configuration carries this gateway's key.",
  },
  GIT_METADATA_UNSAFE: {
    status: 409,
    hint: 'A path under .git that host git reads as configuration is a symlink or redirects git (e.g. .git/commondir): inspect it, remove it if you did not make it, then start the sandbox again.',
  },
  GIT_GATE_DISABLED: {
    status: 503,
    hint: 'This daemon runs without the git gateway layer; enable it in the daemon (hooks registry) and restart aiboxd.',
  },
  GIT_NOT_INSTALLED: {
    status: 500,
    hint: 'Install git on the host (apt-get install -y git); the gateway runs git http-backend.',
  },
  PUSH_NOT_FOUND: {
    status: 404,
    hint: 'List pushes with `aibox push status`; push ids look like push_3f9a0c1d2e4b.',
  },
  PUSH_NOT_PENDING: {
    status: 409,
    hint: 'Only a pending (or conflicting) push can be approved or rejected; see `aibox push status`.',
  },
  PUSH_NOT_REVIEWED: {
    status: 409,
    hint: 'Review the exact commits first with `aibox push show ID`, or pass --commit SHA of the commit you reviewed.',
  },
  PUSH_MOVED: {
    status: 409,
    hint: 'The staging ref moved since you reviewed it; run `aibox push show ID` again and approve what you see.',
  },
  PUSH_CONFLICT: {
    status: 409,
    hint: 'The target branch moved and the push is not a fast-forward; ask the agent to rebase and push again, or reject.',
  },
  TASK_INVALID_DESCRIPTION: {
    status: 400,
    hint: 'Describe the task with a few words containing letters or digits, e.g. "feature 123 implement user auth".',
  },
  TASK_NOT_A_REPOSITORY: {
    status: 400,
    hint: 'Run the command inside a git repository (or pass --repo PATH to one) that has at least one commit.',
  },
  TASK_EXISTS: {
    status: 409,
    hint: 'A task or branch with this name exists; choose another description or remove it with `aibox task rm NAME`.',
  },
  TASK_NOT_FOUND: {
    status: 404,
    hint: 'List tasks with `aibox task list`.',
  },
  TASK_WORKTREE_INVALID: {
    status: 400,
    hint: "The task's git metadata is not as the daemon created it (missing, moved or a symlink); remove the task and create it again (aibox task rm, aibox task new).",
  },
  TASK_GIT_FAILED: {
    status: 400,
    hint: 'git refused the worktree operation; the message says why (e.g. uncommitted changes: commit or pass --force).',
  },
});
