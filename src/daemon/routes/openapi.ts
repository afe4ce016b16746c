import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  ApiErrorBody,
  API_ROUTES,
  CompatCleanupRequest,
  CompatCleanupResponse,
  CompatCreateSessionRequest,
  CompatCreateSessionResponse,
  CompatExecuteRequest,
  CompatExecuteResponse,
  CreatedToken,
  CreateSessionRequest,
  CreateTokenRequest,
  FileList,
  FileQuery,
  FileRemovedReport,
  FileWrittenReport,
  SESSION_ROUTES as R,
  SessionExecRequest,
  SessionExecResult,
  SessionList,
  SessionRemovedReport,
  SessionReport,
  TarExtractedReport,
  TOKEN_ROUTES as T,
  TokenList,
  TokenRevokedReport,
} from '../../shared/index.js';
import { open, rootOnly, sandboxParam } from '../http/access.js';
import { ACCESS_ERRORS, COMMON_ERRORS, LISTENER_ERRORS, ROUTE_ERRORS } from './openapi-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The error codes this route answers besides COMMON_ERRORS and its access rule's (the OpenAPI document). */
    errors?: readonly string[];
  }
}

export interface RegisteredRoute {
  method: string;
  url: string;
  /** Codes the route declared (`config.errors`). */
  errors?: readonly string[] | undefined;
  /** Codes its access rule implies. */
  accessErrors?: readonly string[] | undefined;
}

/** Every route the app registers from now on (call it before the routes are registered). */
export function collectRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    const config = route.config as { errors?: readonly string[]; access?: unknown } | undefined;
    const access =
      config?.access === rootOnly
        ? ACCESS_ERRORS.rootOnly
        : config?.access === sandboxParam
          ? ACCESS_ERRORS.sandboxParam
          : undefined;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      routes.push({ method, url: route.url, errors: config?.errors, accessErrors: access });
    }
  });
  return routes;
}

/** The route's own error codes, from the session API's operations, its `config.errors` or ROUTE_ERRORS. */
function ownErrors(route: RegisteredRoute): readonly string[] | undefined {
  return (
    OPERATIONS[route.url]?.[route.method.toLowerCase()]?.errors ??
    route.errors ??
    ROUTE_ERRORS[`${route.method} ${route.url}`]
  );
}

/** Registered routes whose error codes are written nowhere (a test keeps this empty). */
export function undocumentedRoutes(routes: readonly RegisteredRoute[]): RegisteredRoute[] {
  return routes.filter((r) => ownErrors(r) === undefined);
}

type Body = z.ZodType | 'binary' | 'tar' | 'prometheus' | 'html';
interface Operation {
  summary: string;
  scope?: 'sessions' | 'admin';
  request?: Body;
  query?: z.ZodType;
  response: Body;
  status?: number;
  errors: readonly string[];
}

const AUTH = ['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'TOKEN_SCOPE'];
const LIMITS = ['SESSION_RATE_LIMITED', 'API_INVALID_REQUEST', 'API_BAD_REQUEST'];
const SESSION = [...AUTH, ...LIMITS, 'SESSION_NOT_FOUND'];
const EXEC = [...SESSION, 'SANDBOX_NOT_RUNNING', 'POLICY_DENIED', 'EXEC_WORKDIR_NOT_FOUND'];
const PATHS = [...SESSION, 'SESSION_PATH_INVALID', 'SESSION_PATH_ESCAPE', 'SESSION_PATH_NOT_FOUND'];
const CREATE = [...AUTH, ...LIMITS, 'SESSION_QUOTA', 'SESSION_PATH_INVALID', 'SANDBOX_LAYER_FAILED'];

/** The session API described in full (schemas, scopes, every error code per route). */
const OPERATIONS: Record<string, Record<string, Operation>> = {
  [R.collection]: {
    post: {
      summary: 'Create a session',
      scope: 'sessions',
      request: CreateSessionRequest,
      response: SessionReport,
      status: 201,
      errors: CREATE,
    },
    get: {
      summary: "List the caller's sessions (admin: all)",
      scope: 'sessions',
      response: SessionList,
      errors: [...AUTH, ...LIMITS],
    },
  },
  [R.one]: {
    get: { summary: 'One session', scope: 'sessions', response: SessionReport, errors: SESSION },
    delete: {
      summary: 'Remove a session and its sandbox',
      scope: 'sessions',
      response: SessionRemovedReport,
      errors: SESSION,
    },
  },
  [R.exec]: {
    post: {
      summary: 'Run a command and collect its output (with a timeout)',
      scope: 'sessions',
      request: SessionExecRequest,
      response: SessionExecResult,
      errors: EXEC,
    },
  },
  [R.execWs]: {
    get: {
      summary: 'WebSocket: streaming exec with stdin (first message {"type":"start","spec":…})',
      scope: 'sessions',
      response: 'binary',
      status: 101,
      errors: [...EXEC, 'API_UPGRADE_REQUIRED'],
    },
  },
  [R.files]: {
    put: {
      summary: 'Write a file (raw body)',
      scope: 'sessions',
      query: FileQuery,
      request: 'binary',
      response: FileWrittenReport,
      errors: [
        ...PATHS,
        'SESSION_PATH_NOT_FILE',
        'SESSION_PATH_NOT_DIR',
        'SESSION_FILE_TOO_LARGE',
        'SESSION_WORKSPACE_FULL',
      ],
    },
    get: {
      summary: 'Read a file',
      scope: 'sessions',
      query: FileQuery,
      response: 'binary',
      errors: [...PATHS, 'SESSION_PATH_NOT_FILE'],
    },
    delete: {
      summary: 'Delete a file or folder (recursive=true for a non-empty folder)',
      scope: 'sessions',
      query: FileQuery,
      response: FileRemovedReport,
      errors: [...PATHS, 'SESSION_DIR_NOT_EMPTY'],
    },
  },
  [R.filesList]: {
    get: {
      summary: 'List a folder (links are listed, never followed)',
      scope: 'sessions',
      query: FileQuery,
      response: FileList,
      errors: [...PATHS, 'SESSION_PATH_NOT_DIR'],
    },
  },
  [R.filesTar]: {
    put: {
      summary: 'Extract a tar stream into a folder (files and folders only)',
      scope: 'sessions',
      query: FileQuery,
      request: 'tar',
      response: TarExtractedReport,
      errors: [
        ...PATHS,
        'SESSION_TAR_INVALID',
        'SESSION_TAR_ENTRY_REFUSED',
        'SESSION_FILE_TOO_LARGE',
        'SESSION_WORKSPACE_FULL',
      ],
    },
    get: {
      summary: 'A folder as a tar stream (links left out)',
      scope: 'sessions',
      query: FileQuery,
      response: 'tar',
      errors: [...PATHS, 'SESSION_PATH_NOT_DIR'],
    },
  },
  [R.compatCreate]: {
    post: {
      summary: 'Compatibility: create a session',
      scope: 'sessions',
      request: CompatCreateSessionRequest,
      response: CompatCreateSessionResponse,
      errors: CREATE,
    },
  },
  [R.compatExecute]: {
    post: {
      summary: 'Compatibility: run a shell command',
      scope: 'sessions',
      request: CompatExecuteRequest,
      response: CompatExecuteResponse,
      errors: EXEC,
    },
  },
  [R.compatCleanup]: {
    post: {
      summary: 'Compatibility: remove a session',
      scope: 'sessions',
      request: CompatCleanupRequest,
      response: CompatCleanupResponse,
      errors: SESSION,
    },
  },
  [T.collection]: {
    post: {
      summary: 'Issue a token (shown once)',
      scope: 'admin',
      request: CreateTokenRequest,
      response: CreatedToken,
      status: 201,
      errors: [...AUTH, 'TOKEN_NAME_TAKEN', 'TOKEN_LIMIT', 'API_INVALID_REQUEST', 'API_ROOT_ONLY'],
    },
    get: {
      summary: 'List tokens (never their secrets)',
      scope: 'admin',
      response: TokenList,
      errors: [...AUTH, 'API_ROOT_ONLY'],
    },
  },
  [T.one]: {
    delete: {
      summary: 'Revoke a token',
      scope: 'admin',
      response: TokenRevokedReport,
      errors: [...AUTH, 'TOKEN_NOT_FOUND', 'API_ROOT_ONLY'],
    },
  },
  [R.metrics]: {
    get: {
      summary: 'Prometheus metrics',
      scope: 'admin',
      response: 'prometheus',
      errors: [...AUTH, 'API_ROOT_ONLY'],
    },
  },
  [R.openapi]: { get: { summary: 'This document', response: z.record(z.string(), z.unknown()), errors: [] } },
  [API_ROUTES.system.docs]: {
    get: { summary: 'This document as a reference page', response: 'html', errors: [] },
  },
};

const MEDIA: Record<Exclude<Body, z.ZodType>, string> = {
  binary: 'application/octet-stream',
  tar: 'application/x-tar',
  prometheus: 'text/plain; version=0.0.4',
  html: 'text/html',
};

function content(body: Body, io: 'input' | 'output') {
  if (typeof body === 'string')
    return { [MEDIA[body]]: { schema: { type: 'string', contentMediaType: MEDIA[body] } } };
  const { $schema: _drop, ...schema } = z.toJSONSchema(body, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return { 'application/json': { schema } };
}

function parametersOf(url: string, query: z.ZodType | undefined) {
  const params: Record<string, unknown>[] = [...url.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (query instanceof z.ZodObject) {
    const shape = query.shape as Record<string, z.ZodType>;
    for (const [name, field] of Object.entries(shape)) {
      const { $schema: _drop, ...schema } = z.toJSONSchema(field, {
        io: 'input',
        unrepresentable: 'any',
      }) as Record<string, unknown>;
      params.push({ name, in: 'query', required: !field.safeParse(undefined).success, schema });
    }
  }
  return params;
}

/**
 * OpenAPI 3.1 of the whole API: the session API from its zod schemas with every error code per route; every other
 * registered route listed with the error contract (their contracts are in src/shared/api and SPEC.md).
 */
export function openApiDocument(
  routes: readonly RegisteredRoute[],
  version: string,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorSchema = content(ApiErrorBody, 'output');
  const seen = new Set<string>();
  for (const route of routes) {
    const { method, url } = route;
    const key = `${method} ${url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const m = method.toLowerCase();
    const op = OPERATIONS[url]?.[m];
    const path = url.replace(/:([A-Za-z]+)/g, '{$1}');
    const errors = [
      ...new Set([
        ...(ownErrors({ method, url, errors: route.errors }) ?? []),
        ...(route.accessErrors ?? []),
        ...LISTENER_ERRORS,
        ...COMMON_ERRORS,
      ]),
    ];
    paths[path] ??= {};
    paths[path][m] = {
      operationId: `${m}${url.replace(/[^A-Za-z0-9]+(.)?/g, (_s, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: op?.summary ?? `${method} ${url} (see SPEC.md section 3)`,
      ...(op?.scope ? { security: [{ bearer: [] }], 'x-token-scope': op.scope } : {}),
      parameters: parametersOf(url, op?.query),
      ...(op?.request ? { requestBody: { required: true, content: content(op.request, 'input') } } : {}),
      responses: {
        [String(op?.status ?? 200)]: {
          description: 'success',
          ...(op ? { content: content(op.response, 'output') } : {}),
        },
        default: { description: 'error (the error contract)', content: errorSchema },
      },
      'x-error-codes': errors,
      // Written nowhere yet (openapi-errors.ts): said out loud, and a test fails on it.
      ...(ownErrors({ method, url, errors: route.errors }) === undefined ? { 'x-undocumented': true } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'aiboxd API',
      version,
      description:
        'aiboxd: the unix socket (SO_PEERCRED per-uid rules) and the opt-in network listener (bearer tokens). ' +
        'Every non-2xx answer is {"error": {"code", "message", "hint", "details?"}}; codes: docs/errors.md. ' +
        "x-error-codes lists every code a route answers: its own, its access rule's, the token codes of the " +
        'network listener and the transport codes every route shares.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

/** `/v1/openapi.json` and `/v1/docs` (a rendered reference page, no scripts). */
export function openApiRoutes(routes: readonly RegisteredRoute[], version: string): FastifyPluginAsync {
  return async (app) => {
    const anyone = { config: { access: open, tokenScope: 'sessions' as const } };
    app.get(R.openapi, anyone, async () => openApiDocument(routes, version));
    app.get(API_ROUTES.system.docs, anyone, async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(renderDocs(openApiDocument(routes, version))),
    );
  };
}

function renderDocs(doc: Record<string, unknown>): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const rows: string[] = [];
  for (const [path, methods] of Object.entries(
    doc.paths as Record<string, Record<string, Record<string, unknown>>>,
  )) {
    for (const [method, op] of Object.entries(methods)) {
      const codes = (op['x-error-codes'] as string[]).map((c) => `<code>${esc(c)}</code>`).join(' ');
      const scope = typeof op['x-token-scope'] === 'string' ? esc(op['x-token-scope']) : 'socket only';
      rows.push(
        `<tr><td><b>${method.toUpperCase()}</b></td><td><code>${esc(path)}</code></td><td>${esc(String(op.summary))}</td><td>${scope}</td><td>${codes}</td></tr>`,
      );
    }
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>aiboxd API</title><style>body{font:14px system-ui;margin:2em}td{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:top}code{font-size:12px}</style></head><body><h1>aiboxd API</h1><p>OpenAPI 3.1: <a href="/v1/openapi.json">/v1/openapi.json</a>. Errors: docs/errors.md.</p><table><tr><th>method</th><th>path</th><th>what</th><th>token scope</th><th>error codes</th></tr>${rows.join('')}</table></body></html>`;
}
