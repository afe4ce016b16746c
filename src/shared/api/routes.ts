// Every route of aiboxd's API, as the daemon registers it (`:param` segments) and the client fills it in.
// No zod here: the CLI's hot path (version, list, exec) imports this file and must stay light.

export const API_ROUTES = {
  system: {
    version: '/v1/version',
    status: '/v1/status',
    doctor: '/v1/doctor',
    baseImage: '/v1/images/base',
    events: '/v1/events',
    docs: '/v1/docs',
    openapi: '/v1/openapi.json',
    /** Prometheus text format (root on the socket, an admin token on the network listener). */
    metrics: '/metrics',
  },
  sandboxes: {
    collection: '/v1/sandboxes',
    pool: '/v1/pool',
    one: '/v1/sandboxes/:name',
    start: '/v1/sandboxes/:name/start',
    stop: '/v1/sandboxes/:name/stop',
    logs: '/v1/sandboxes/:name/logs',
    exec: '/v1/sandboxes/:name/exec',
    execWs: '/v1/sandboxes/:name/exec/ws',
    processes: '/v1/sandboxes/:name/processes',
    process: '/v1/sandboxes/:name/processes/:pid',
    egressSelftest: '/v1/sandboxes/:name/egress/selftest',
  },
  packs: {
    catalogue: '/v1/packs',
    lint: '/v1/packs/lint',
    build: '/v1/packs/build',
    cached: '/v1/packs/:ref',
    installed: '/v1/sandboxes/:name/packs',
    installedOne: '/v1/sandboxes/:name/packs/:pack',
    smoke: '/v1/sandboxes/:name/packs/smoke',
    mcp: '/v1/sandboxes/:name/mcp',
    mcpOne: '/v1/sandboxes/:name/mcp/:pack',
  },
  pushes: {
    collection: '/v1/pushes',
    one: '/v1/pushes/:id',
    show: '/v1/pushes/:id/show',
    approve: '/v1/pushes/:id/approve',
    reject: '/v1/pushes/:id/reject',
  },
  tasks: {
    collection: '/v1/tasks',
    one: '/v1/tasks/:name',
    done: '/v1/tasks/:name/done',
  },
  secrets: {
    collection: '/v1/secrets',
    one: '/v1/secrets/:name',
  },
  sshKeys: {
    collection: '/v1/ssh-keys',
    gateway: '/v1/ssh/gateway',
  },
  policy: {
    show: '/v1/policy',
    decision: '/v1/policy/decisions/:id',
    decide: '/v1/policy/decide',
    reload: '/v1/policy/reload',
  },
  audit: {
    tail: '/v1/audit',
    verify: '/v1/audit/verify',
    export: '/v1/audit/export',
  },
  egress: {
    decision: '/v1/egress/decisions/:id',
    /** The recent DNS and proxy decisions, allowed and refused (the dashboard's egress requests). */
    decisions: '/v1/egress/decisions',
    learn: '/v1/sandboxes/:name/egress/learn',
  },
  /** Policy changes agents proposed from inside their sandbox, for a person to approve or reject. */
  proposals: {
    collection: '/v1/proposals',
    one: '/v1/proposals/:id',
    approve: '/v1/proposals/:id/approve',
    reject: '/v1/proposals/:id/reject',
  },
  /** The session API (token-authenticated on the network listener; SESSION_ROUTES in sessions.ts). */
  sessions: {
    collection: '/v1/sessions',
    one: '/v1/sessions/:id',
    exec: '/v1/sessions/:id/exec',
    execWs: '/v1/sessions/:id/exec/ws',
    files: '/v1/sessions/:id/files',
    filesList: '/v1/sessions/:id/files/list',
    filesTar: '/v1/sessions/:id/files/tar',
  },
  tokens: {
    collection: '/v1/tokens',
    one: '/v1/tokens/:name',
  },
  /** The session-sandbox API existing programs already speak (no /v1: their paths are fixed). */
  compat: {
    create: '/create_session',
    execute: '/execute',
    cleanup: '/cleanup',
  },
  /** The web dashboard's page, assets and login (served outside /v1). */
  dashboard: {
    page: '/',
    assets: '/assets/*',
    login: '/dashboard/login',
    session: '/dashboard/session',
    logout: '/dashboard/logout',
  },
} as const;

type Params<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | Params<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

/**
 * A route with its `:params` filled in, each percent-encoded (so a name can never add a path segment), and an
 * optional query string (undefined values left out).
 *   routePath(API_ROUTES.sandboxes.one, { name: 'demo' }) -> '/v1/sandboxes/demo'
 */
export function routePath<P extends string>(
  pattern: P,
  params: Record<Params<P>, string>,
  query?: Record<string, string | number | boolean | undefined>,
): string {
  const values = params as Record<string, string>;
  const path = pattern.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`route ${pattern} needs :${name}`);
    return encodeURIComponent(value);
  });
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  return q.size > 0 ? `${path}?${q.toString()}` : path;
}
