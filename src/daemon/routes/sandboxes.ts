import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  API_ROUTES as R,
  CreateEphemeralSandboxRequest,
  CreateSandboxRequest,
  ExecRequest,
  type ExecResult,
  type RemovedReport,
  type SandboxList,
} from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { daemonErrors } from '../errors.js';
import { open, rootOnly, sandboxParam } from '../http/access.js';
import { checkWorkdir, streamExec } from './exec-stream.js';
import { withSessionOwners } from './sandbox-owners.js';

const NameParams = z.object({ name: z.string().min(1).max(128) });

export function sandboxRoutes(services: DaemonServices): FastifyPluginAsync {
  const sandboxes = services.sandboxes;
  return async (app) => {
    const mine = { config: { access: sandboxParam } };

    app.post(R.sandboxes.collection, { config: { access: open } }, async (request, reply) => {
      // A request without a body is refused (400) rather than read as `{}`: nothing starts a sandbox by accident.
      const raw = request.body as Record<string, unknown> | undefined;
      // No host folder: a fresh workspace, claimed from the warm pool when one is ready.
      if (raw?.path === undefined) {
        const ephemeral = CreateEphemeralSandboxRequest.parse(raw);
        return reply.status(201).send(await sandboxes.createEphemeral(ephemeral, request.caller));
      }
      const body = CreateSandboxRequest.parse(raw);
      const report = await sandboxes.create(body, request.caller);
      // devcontainer.json's lifecycle commands, through the exec door, once the sandbox is running.
      const devcontainer = await services.devcontainer?.afterStart(report, true, sandboxes);
      return reply.status(201).send(devcontainer ? { ...report, devcontainer } : report);
    });

    // The warm pool per profile: size, ready, starting (operators).
    app.get(R.sandboxes.pool, { config: { access: rootOnly } }, () => ({ pools: services.pool.status() }));

    // Everyone may list: each caller sees their own sandboxes (root sees all).
    app.get(R.sandboxes.collection, { config: { access: open } }, async (request): Promise<SandboxList> => {
      const all = withSessionOwners(services, await sandboxes.list());
      if (request.caller.uid === 0) return { sandboxes: all };
      const visible = new Set((await app.visibleSandboxes(request.caller)).map((r) => r.id));
      return { sandboxes: all.filter((s) => visible.has(s.id)) };
    });

    app.get(R.sandboxes.one, mine, async (request) => {
      const report = await sandboxes.get(NameParams.parse(request.params).name);
      return withSessionOwners(services, [report])[0];
    });

    app.post(R.sandboxes.stop, mine, async (request) =>
      sandboxes.stop(NameParams.parse(request.params).name),
    );

    app.post(R.sandboxes.start, mine, async (request) => {
      const report = await sandboxes.start(NameParams.parse(request.params).name);
      const devcontainer = await services.devcontainer?.afterStart(report, false, sandboxes);
      return devcontainer ? { ...report, devcontainer } : report;
    });

    app.delete(R.sandboxes.one, mine, async (request): Promise<RemovedReport> => {
      const { name } = NameParams.parse(request.params);
      await sandboxes.remove(name);
      return { removed: name };
    });

    app.get(R.sandboxes.logs, mine, async (request, reply) => {
      const logs = await sandboxes.logs(NameParams.parse(request.params).name);
      return reply.type('text/plain; charset=utf-8').send(logs);
    });

    app.post(R.sandboxes.exec, mine, async (request): Promise<ExecResult> => {
      const { name } = NameParams.parse(request.params);
      const spec = ExecRequest.parse(request.body ?? {});
      await sandboxes.requireRunning(name); // an unknown or stopped sandbox says so before policy is asked
      await services.policy.authorize('exec', { argv: spec.cmd, via: 'api' }, name);
      if (spec.workdir) await checkWorkdir(services, name, spec.workdir);
      const result = await sandboxes.execBuffered(name, {
        cmd: spec.cmd,
        env: spec.env,
        ...(spec.workdir ? { workdir: spec.workdir } : {}),
        ...(spec.timeoutSeconds ? { timeoutMs: Math.ceil(spec.timeoutSeconds * 1000) } : {}),
      });
      const { timedOut, ...rest } = result;
      return timedOut ? { ...rest, timedOut: true } : rest;
    });

    // A WebSocket only: the spec comes in the first message (see ExecStartMessage), never in the URL.
    app.route({
      method: 'GET',
      url: R.sandboxes.execWs,
      config: { access: sandboxParam },
      // An unknown or stopped sandbox is refused with a plain HTTP answer, before anything is upgraded.
      preHandler: async (request) => {
        await sandboxes.requireRunning(NameParams.parse(request.params).name);
      },
      handler: async () => {
        throw daemonErrors.create('API_UPGRADE_REQUIRED', 'exec/ws is a WebSocket: send an upgrade request');
      },
      wsHandler: (socket, request) => {
        void streamExec(services, socket, NameParams.parse(request.params).name, request.log);
      },
    });
  };
}
