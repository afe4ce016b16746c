import { API_ROUTES as R } from '../../shared/api/routes.js';

/**
 * The error codes of every route that is not described in full in openapi.ts (the session API is), by
 * `METHOD /url` as the daemon registers it. The OpenAPI document adds the codes every route can answer (COMMON)
 * and those its access rule implies; a route may also declare its own with `config: { errors: [...] }`. A route
 * listed nowhere fails test/sessions/daemon-wiring.test.ts: add its line here (or its `config.errors`).
 */

/** Every route, whoever calls: transport limits, the caller's identity, the daemon's own failure. */
export const COMMON_ERRORS = [
  'API_BAD_URL',
  'API_URL_TOO_LONG',
  'API_HEADERS_TOO_LARGE',
  'API_REQUEST_TIMEOUT',
  'API_CALLER_UNKNOWN',
  'DAEMON_INTERNAL',
] as const;

/** Every route on the network listener, before its own checks (socket-only routes answer TOKEN_SCOPE there). */
export const LISTENER_ERRORS = [
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_REVOKED',
  'TOKEN_RATE_LIMITED',
  'TOKEN_SCOPE',
] as const;

const INPUT = ['API_INVALID_REQUEST', 'API_BAD_REQUEST'];
const RUNTIME = ['RUNTIME_PODMAN_SERVICE', 'RUNTIME_CONTAINER'];
const BRING_UP = [
  ...RUNTIME,
  'SANDBOX_BUSY',
  'SANDBOX_LAYER_FAILED',
  'SANDBOX_PATH_CHANGED',
  'PROFILE_NOT_FOUND',
  'PROFILE_INVALID',
  'RUNTIME_IMAGE_MISSING',
  'RUNTIME_WORKSPACE_MOUNT',
  'RUNTIME_MOUNT_REFUSED',
  'RUNTIME_LIMITS',
  'RUNTIME_SECCOMP',
  'RUNTIME_AGENT_UNAVAILABLE',
  'POLICY_DENIED',
  'POLICY_NOT_LOADED',
  'POLICY_LOOSENING',
  'POLICY_PROJECT_INVALID',
  'POLICY_PROJECT_UNSAFE',
  'POLICY_TEAM_MISSING',
];
const EXEC = [
  ...INPUT,
  'SANDBOX_NOT_RUNNING',
  'EXEC_INVALID',
  'EXEC_WORKDIR_NOT_FOUND',
  'POLICY_DENIED',
  'RUNTIME_EXEC',
  'RUNTIME_EXEC_BAD_REQUEST',
  'RUNTIME_AGENT_UNAVAILABLE',
  'RUNTIME_AGENT_LOST',
];
const SECRETS = ['CREDENTIAL_UNAVAILABLE', 'VAULT_AUTH_FAILED', 'SECRET_STORE_CORRUPT'];
const PUSH = ['PUSH_NOT_FOUND', 'GIT_GATE_DISABLED'];
const PACK = ['PACK_NOT_FOUND', 'PACK_VERSION_NOT_FOUND', 'SANDBOX_NOT_RUNNING'];
const PROPOSAL = ['PROPOSAL_NOT_FOUND', 'PROPOSALS_UNAVAILABLE'];
const LEARN = ['LEARN_NOT_ALLOWED', 'LEARN_ALREADY_RUNNING', 'LEARN_NOT_ENFORCED', 'SANDBOX_NOT_RUNNING'];

const S = R.sandboxes;
const P = R.packs;

export const ROUTE_ERRORS: Readonly<Record<string, readonly string[]>> = {
  [`GET ${R.system.version}`]: [],
  [`GET ${R.system.status}`]: [],
  [`GET ${R.system.doctor}`]: [],
  [`GET ${R.system.events}`]: [...INPUT],
  [`GET ${R.system.baseImage}`]: ['RUNTIME_PODMAN_SERVICE'],
  [`POST ${R.system.baseImage}`]: [...INPUT, 'RUNTIME_IMAGE_BUILD', 'RUNTIME_PODMAN_SERVICE', 'SANDBOX_BUSY'],

  [`POST ${S.collection}`]: [
    ...INPUT,
    ...BRING_UP,
    'SANDBOX_NAME_TAKEN',
    'SANDBOX_NAME_INVALID',
    'SANDBOX_PATH_NOT_FOUND',
    'SANDBOX_PATH_INVALID',
    'SANDBOX_PATH_SYMLINK',
    'SANDBOX_PATH_ROOT_OWNED',
    'SANDBOX_PATH_ACCESS',
  ],
  [`GET ${S.collection}`]: [],
  [`GET ${S.pool}`]: [],
  [`GET ${S.one}`]: [],
  [`DELETE ${S.one}`]: [...RUNTIME, 'SANDBOX_BUSY'],
  [`POST ${S.start}`]: [...BRING_UP],
  [`POST ${S.stop}`]: [...RUNTIME, 'SANDBOX_BUSY'],
  [`GET ${S.logs}`]: [...INPUT, ...RUNTIME],
  [`POST ${S.exec}`]: EXEC,
  [`GET ${S.execWs}`]: [...EXEC, 'API_UPGRADE_REQUIRED', 'RUNTIME_EXEC_STDIN_TOO_LARGE'],
  [`GET ${S.processes}`]: ['SANDBOX_NOT_RUNNING', 'RUNTIME_AGENT_UNAVAILABLE', 'RUNTIME_AGENT_LOST'],
  [`DELETE ${S.process}`]: [
    ...INPUT,
    'SANDBOX_NOT_RUNNING',
    'SANDBOX_PROCESS_PROTECTED',
    'RUNTIME_PROCESS_NOT_FOUND',
    'RUNTIME_AGENT_UNAVAILABLE',
  ],
  [`POST ${S.egressSelftest}`]: [...INPUT, 'SANDBOX_NOT_RUNNING', 'EGRESS_NOT_ENFORCED', 'EGRESS_SELFTEST'],

  [`GET ${R.secrets.collection}`]: [...SECRETS],
  [`PUT ${R.secrets.one}`]: [
    ...INPUT,
    ...SECRETS,
    'CREDENTIAL_NAME_INVALID',
    'CREDENTIAL_VALUE_INVALID',
    'SECRET_STORE_READ_ONLY',
  ],
  [`DELETE ${R.secrets.one}`]: [
    ...INPUT,
    ...SECRETS,
    'CREDENTIAL_NAME_INVALID',
    'CREDENTIAL_NOT_FOUND',
    'SECRET_STORE_READ_ONLY',
  ],

  [`GET ${R.policy.show}`]: [...INPUT, 'SANDBOX_NOT_FOUND', 'POLICY_NOT_LOADED'],
  [`GET ${R.policy.decision}`]: ['POLICY_DECISION_NOT_FOUND', 'AUDIT_READ_FAILED'],
  [`POST ${R.policy.decide}`]: [...INPUT, 'POLICY_BAD_REQUEST', 'POLICY_NOT_LOADED', 'SANDBOX_NOT_FOUND'],
  [`POST ${R.policy.reload}`]: ['POLICY_REPO_MISSING', 'POLICY_REGO_ERROR', 'POLICY_LOOSENING'],

  [`GET ${R.audit.tail}`]: [...INPUT, 'AUDIT_READ_FAILED'],
  [`GET ${R.audit.verify}`]: ['AUDIT_READ_FAILED'],
  [`GET ${R.audit.export}`]: [...INPUT, 'AUDIT_READ_FAILED'],

  [`GET ${R.pushes.collection}`]: [...INPUT, 'GIT_GATE_DISABLED'],
  [`GET ${R.pushes.one}`]: PUSH,
  [`POST ${R.pushes.show}`]: [...PUSH, 'GIT_UPSTREAM_FAILED'],
  [`POST ${R.pushes.approve}`]: [
    ...INPUT,
    ...PUSH,
    'PUSH_NOT_PENDING',
    'PUSH_NOT_REVIEWED',
    'PUSH_MOVED',
    'PUSH_CONFLICT',
    'GIT_UPSTREAM_FAILED',
    'GIT_CREDENTIAL_MISSING',
  ],
  [`POST ${R.pushes.reject}`]: [...INPUT, ...PUSH, 'PUSH_NOT_PENDING'],

  [`POST ${R.tasks.collection}`]: [
    ...INPUT,
    ...BRING_UP,
    'TASK_INVALID_DESCRIPTION',
    'TASK_NOT_A_REPOSITORY',
    'TASK_EXISTS',
    'TASK_GIT_FAILED',
    'SANDBOX_PATH_NOT_FOUND',
    'SANDBOX_PATH_SYMLINK',
    'SANDBOX_PATH_ACCESS',
  ],
  [`GET ${R.tasks.collection}`]: [],
  [`GET ${R.tasks.one}`]: ['TASK_NOT_FOUND'],
  [`DELETE ${R.tasks.one}`]: [...INPUT, 'TASK_NOT_FOUND', 'TASK_WORKTREE_INVALID', 'TASK_GIT_FAILED'],
  [`POST ${R.tasks.done}`]: [...INPUT, 'TASK_NOT_FOUND', 'TASK_WORKTREE_INVALID', 'TASK_GIT_FAILED'],

  [`GET ${R.egress.decision}`]: ['EGRESS_DECISION_NOT_FOUND'],
  ['GET /v1/egress/decisions']: [...INPUT],

  [`GET ${R.sshKeys.collection}`]: ['SSH_KEY_STORE_CORRUPT'],
  [`POST ${R.sshKeys.collection}`]: [
    ...INPUT,
    'SSH_KEY_INVALID',
    'SSH_KEY_IS_PRIVATE',
    'SSH_KEY_EXISTS',
    'SSH_KEY_STORE_CORRUPT',
  ],
  [`DELETE ${R.sshKeys.collection}`]: [
    ...INPUT,
    'SSH_KEY_NOT_FOUND',
    'SSH_KEY_AMBIGUOUS',
    'SSH_KEY_STORE_CORRUPT',
  ],
  [`GET ${R.sshKeys.gateway}`]: ['SSH_GATEWAY_DISABLED'],

  [`GET ${P.catalogue}`]: ['PACK_MANIFEST_INVALID'],
  [`GET ${P.lint}`]: [],
  [`POST ${P.build}`]: [
    ...INPUT,
    'PACK_NOT_FOUND',
    'PACK_VERSION_NOT_FOUND',
    'PACK_BUILD_FAILED',
    'PACK_BUILD_BUSY',
    'PACK_BASE_IMAGE_MISSING',
  ],
  [`DELETE ${P.cached}`]: [...INPUT, 'PACK_NOT_FOUND', 'PACK_CACHE_IN_USE'],
  [`GET ${P.installed}`]: [],
  [`POST ${P.installed}`]: [
    ...INPUT,
    ...PACK,
    'PACK_ALREADY_INSTALLED',
    'PACK_BUILD_FAILED',
    'PACK_BUILD_BUSY',
    'PACK_BASE_IMAGE_MISSING',
    'POLICY_DENIED',
  ],
  [`DELETE ${P.installedOne}`]: [...PACK, 'PACK_NOT_INSTALLED', 'PACK_IN_USE'],
  [`POST ${P.smoke}`]: [...INPUT, ...PACK, 'PACK_NOT_INSTALLED'],
  [`GET ${P.mcp}`]: [],
  [`POST ${P.mcp}`]: [...INPUT, ...PACK, 'PACK_NOT_INSTALLED', 'PACK_NOT_MCP', 'POLICY_DENIED'],
  [`DELETE ${P.mcpOne}`]: [...PACK, 'PACK_NOT_INSTALLED', 'PACK_NOT_MCP'],

  ['GET /v1/proposals']: [...INPUT, 'PROPOSALS_UNAVAILABLE'],
  ['GET /v1/proposals/:id']: PROPOSAL,
  ['POST /v1/proposals/:id/approve']: [
    ...INPUT,
    ...PROPOSAL,
    'PROPOSAL_ALREADY_DECIDED',
    'PROPOSAL_NO_PROJECT',
    'PROPOSAL_PROJECT_UNSAFE',
    'PROPOSAL_PROJECT_INVALID',
  ],
  ['POST /v1/proposals/:id/reject']: [...INPUT, ...PROPOSAL, 'PROPOSAL_ALREADY_DECIDED'],
  ['POST /v1/sandboxes/:name/egress/learn']: [...INPUT, ...LEARN, 'PROPOSALS_UNAVAILABLE'],
  ['GET /v1/sandboxes/:name/egress/learn']: ['PROPOSALS_UNAVAILABLE'],

  [`GET ${R.dashboard.page}`]: ['DASHBOARD_NOT_BUILT', 'DASHBOARD_INSECURE'],
  [`GET ${R.dashboard.assets}`]: ['DASHBOARD_NOT_BUILT', 'DASHBOARD_INSECURE'],
  [`POST ${R.dashboard.login}`]: [...INPUT, 'DASHBOARD_CSRF', 'DASHBOARD_INSECURE'],
  [`GET ${R.dashboard.session}`]: ['DASHBOARD_SESSION_INVALID'],
  [`POST ${R.dashboard.logout}`]: ['DASHBOARD_SESSION_INVALID', 'DASHBOARD_CSRF'],
};

/** Codes a route's access rule (src/daemon/http/access.ts) adds, by the rule's name. */
export const ACCESS_ERRORS: Readonly<Record<string, readonly string[]>> = {
  rootOnly: ['API_ROOT_ONLY'],
  sandboxParam: ['SANDBOX_NOT_FOUND', 'SANDBOX_FORBIDDEN'],
};
