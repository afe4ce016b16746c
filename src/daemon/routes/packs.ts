import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  API_ROUTES as R,
  InstallPackRequest,
  PackBuildRequest,
  PackRef,
  isAiboxError,
  type PackBuildEvent,
  type RemovedPackList,
} from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import type { PackTarget } from '../services/packs.js';
import { open, rootOnly, sandboxParam } from '../http/access.js';
import { MCP_INDEX_PATH } from '../../packs/index.js';

const NameParams = z.object({ name: z.string().min(1).max(128) });
const PackParams = NameParams.extend({ pack: PackRef });
const CacheParams = z.object({ ref: PackRef });

/**
 * Packs: the catalogue and the host's pack cache (GET /v1/packs, POST /v1/packs/build as NDJSON progress,
 * DELETE /v1/packs/:ref), and per sandbox: installed packs, MCP servers and their smoke tests.
 */
export function packRoutes(services: DaemonServices): FastifyPluginAsync {
  const packs = () => services.packs;
  /** A running sandbox, with exec as its user (the sandbox's own seccomp filter and limits apply). */
  const target = async (name: string): Promise<PackTarget> => {
    const record = await services.sandboxes.requireRunning(name);
    return {
      id: record.id,
      name: record.name,
      exec: async (cmd) => {
        const r = await services.sandboxes.execBuffered(name, { cmd });
        return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      },
    };
  };
  const mine = { config: { access: sandboxParam } };
  return async (app) => {
    app.get(R.packs.catalogue, { config: { access: open } }, async () => packs().list());

    app.get(R.packs.lint, { config: { access: open } }, async () => packs().lint());

    app.post(R.packs.build, { config: { access: rootOnly } }, async (request, reply) => {
      const body = PackBuildRequest.parse(request.body ?? {});
      const service = packs();
      service.registry.resolve(body.ref); // an unknown pack is a plain 404, before the stream starts
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const send = (event: PackBuildEvent) => reply.raw.write(`${JSON.stringify(event)}\n`);
      const started = Date.now();
      try {
        const r = await service.build(body.ref, {
          force: body.force,
          onProgress: (p) => send({ type: 'progress', ...p }),
        });
        send({ type: 'done', cached: r.cached, ms: Date.now() - started, built: r.built });
      } catch (err) {
        services.logger.error({ pack: body.ref, err: String(err) }, 'pack build failed');
        send({
          type: 'error',
          error: isAiboxError(err)
            ? { code: err.code, message: err.message, hint: err.hint }
            : { code: 'PACK_BUILD_FAILED', message: String(err), hint: 'See the daemon log.' },
        });
      }
      reply.raw.end();
      return reply;
    });

    app.delete(
      R.packs.cached,
      { config: { access: rootOnly } },
      async (request): Promise<RemovedPackList> => {
        const { ref } = CacheParams.parse(request.params);
        return { removed: await packs().removeFromCache(ref) };
      },
    );

    app.get(R.packs.installed, mine, async (request) => {
      const { name } = NameParams.parse(request.params);
      const record = await services.sandboxes.find(name);
      return { sandbox: name, packs: await packs().installed(record.id) };
    });

    app.post(R.packs.installed, mine, async (request) => {
      const { name } = NameParams.parse(request.params);
      const { ref } = InstallPackRequest.parse(request.body ?? {});
      const t0 = Date.now();
      const r = await packs().install(await target(name), ref);
      return { sandbox: name, ...r, ms: Date.now() - t0 };
    });

    app.delete(R.packs.installedOne, mine, async (request) => {
      const { name, pack } = PackParams.parse(request.params);
      await packs().uninstall(await target(name), pack);
      return { removed: pack };
    });

    app.post(R.packs.smoke, mine, async (request) => {
      const { name } = NameParams.parse(request.params);
      return { sandbox: name, checks: await packs().smoke(await target(name)) };
    });

    app.get(R.packs.mcp, mine, async (request) => {
      const { name } = NameParams.parse(request.params);
      const record = await services.sandboxes.find(name);
      return { sandbox: name, index: MCP_INDEX_PATH, servers: await packs().mcpServers(record.id) };
    });

    app.post(R.packs.mcp, mine, async (request) => {
      const { name } = NameParams.parse(request.params);
      const { ref } = InstallPackRequest.parse(request.body ?? {});
      return { sandbox: name, ...(await packs().mcpEnable(await target(name), ref)) };
    });

    app.delete(R.packs.mcpOne, mine, async (request) => {
      const { name, pack } = PackParams.parse(request.params);
      await packs().mcpDisable(await target(name), pack);
      return { removed: pack };
    });
  };
}
