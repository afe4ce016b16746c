import { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DAEMON_CALLER, mayActOn, type Caller } from '../../shared/index.js';
import { daemonErrors } from '../errors.js';
import type { DaemonServices } from '../services/index.js';
import { SandboxStore, type SandboxRecord } from '../state/sandbox-store.js';
import type { PeerReader } from './peercred.js';
import { isNetworkRequest, NETWORK_CALLER } from './token-auth.js';

/**
 * What a route acts on, for the one authorisation check every request passes (`installAccess`):
 * - `{ name, id? }` or `{ id }`: a sandbox; only its owner or root may go on (with `id`: that exact sandbox, not a
 *   later one that took the same name after it was removed);
 * - 'any': nothing that belongs to a user (version, the org policy, the audit chain's verification);
 * - 'root': the daemon itself, for every user at once (secrets, SSH keys).
 */
export type Target = { name: string; id?: string } | { id: string } | 'any' | 'root';
export type AccessRule = (request: FastifyRequest) => Target | Promise<Target>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is on the other end of the socket, as the kernel says (SO_PEERCRED). */
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** What the route acts on; a route without one is root-only (fail closed). */
    access?: AccessRule;
  }
}

export const open: AccessRule = () => 'any';
export const rootOnly: AccessRule = () => 'root';

/** The sandbox named by the `:name` path parameter. */
export const sandboxParam: AccessRule = (request) => {
  const name = (request.params as { name?: unknown }).name;
  return typeof name === 'string' ? { name } : 'root';
};

/** An optional `sandbox` in the query string or body: a sandbox when given, `otherwise` when not. */
export function optionalSandbox(where: 'query' | 'body', otherwise: Target): AccessRule {
  return (request) => {
    const source = (where === 'query' ? request.query : request.body) as { sandbox?: unknown } | null;
    const name = source && typeof source === 'object' ? source.sandbox : undefined;
    return typeof name === 'string' && name.length > 0 ? { name } : otherwise;
  };
}

export interface AccessOptions {
  /** Reads the peer of a real connection (SO_PEERCRED). */
  peer: PeerReader | undefined;
  /** The caller of requests made in-process with `app.inject()` (they have no socket): tests only. */
  injectedCaller?: ((raw: IncomingMessage) => Caller) | undefined;
}

/**
 * Attaches the caller to every request and checks, in this one place, that it may act on what the route names.
 * Real connections are identified by SO_PEERCRED once, when accepted; a request whose peer cannot be read is
 * refused. Only `app.inject()` requests (no file descriptor, in-process) get the injected caller, root by default.
 */
export function installAccess(app: FastifyInstance, services: DaemonServices, options: AccessOptions): void {
  const callers = new WeakMap<Socket, Caller>();
  // Built on use: the store only reads files, and in-process test apps may have no state directory.
  const store = () => new SandboxStore(services.config.stateDir);
  const peerOf = (socket: Socket): Caller => {
    let caller = callers.get(socket);
    if (!caller) {
      if (!options.peer) throw new Error('no SO_PEERCRED reader');
      caller = options.peer(socket);
      callers.set(socket, caller);
    }
    return caller;
  };
  // Read when accepted: the answer describes who connect()ed, whatever happens to the socket later.
  app.server.on('connection', (socket: Socket) => {
    try {
      peerOf(socket);
    } catch {
      /* refused per request below */
    }
  });

  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    // The network listener's requests have no uid: token-auth.ts decides for them (fail closed: uid -1).
    if (isNetworkRequest(request.raw)) {
      request.caller = NETWORK_CALLER;
      return;
    }
    const socket: unknown = request.raw.socket;
    // Every connection to the listening socket is a net.Socket; only in-process injection is not.
    if (!(socket instanceof Socket)) {
      request.caller = options.injectedCaller?.(request.raw) ?? DAEMON_CALLER;
      return;
    }
    try {
      request.caller = peerOf(socket);
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'cannot read the peer credentials of a connection');
      throw daemonErrors.create('API_CALLER_UNKNOWN', 'aiboxd cannot tell who is calling on this connection');
    }
  });

  app.addHook('preHandler', async (request) => {
    if (request.is404 || isNetworkRequest(request.raw)) return;
    const caller = request.caller;
    if (caller.uid === 0) return;
    const rule = request.routeOptions.config.access ?? rootOnly;
    const target = await rule(request);
    if (target === 'any') return;
    if (target === 'root') {
      throw daemonErrors.create(
        'API_ROOT_ONLY',
        `${request.method} ${request.routeOptions.url ?? ''} is for root`,
        {
          uid: caller.uid,
        },
      );
    }
    const record = 'name' in target ? await services.sandboxes.find(target.name) : await byId(target.id);
    if ((target.id !== undefined && target.id !== record.id) || !mayActOn(caller, record.ownerUid)) {
      throw daemonErrors.create('SANDBOX_FORBIDDEN', `sandbox "${record.name}" belongs to another user`, {
        name: record.name,
        uid: caller.uid,
      });
    }
  });

  const byId = async (id: string): Promise<SandboxRecord> => {
    const record = await store().get(id);
    if (!record) throw daemonErrors.create('SANDBOX_NOT_FOUND', `no sandbox with id ${id}`, { id });
    return record;
  };

  app.decorate('visibleSandboxes', async (caller: Caller): Promise<SandboxRecord[]> => {
    const records = await store().list();
    return records.filter((r) => mayActOn(caller, r.ownerUid));
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The sandbox records a caller may see and act on (root: all). */
    visibleSandboxes(caller: Caller): Promise<SandboxRecord[]>;
  }
}
