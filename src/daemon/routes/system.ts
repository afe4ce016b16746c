import type { FastifyPluginAsync } from 'fastify';
import {
  API_ROUTES as R,
  type BaseImageReport,
  BuildImageRequest,
  type ImageBuildEvent,
  type StatusReport,
  type VersionReport,
} from '../../shared/index.js';
import { isAiboxError, messageOf } from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { runDoctor } from '../services/doctor.js';
import { open } from '../http/access.js';

export function systemRoutes(services: DaemonServices): FastifyPluginAsync {
  return async (app) => {
    const everyone = { config: { access: open } };
    app.get(R.system.version, everyone, async (): Promise<VersionReport> => ({
      version: services.version,
      api: 'v1',
    }));

    app.get(R.system.status, everyone, async (request): Promise<StatusReport> => {
      // The counts are the caller's own sandboxes (root: all), as the list is.
      let sandboxes = await services.sandboxes.list();
      if (request.caller.uid !== 0) {
        const visible = new Set((await app.visibleSandboxes(request.caller)).map((r) => r.id));
        sandboxes = sandboxes.filter((s) => visible.has(s.id));
      }
      return {
        version: services.version,
        pid: process.pid,
        socket: services.config.socket,
        stateDir: services.config.stateDir,
        mode: services.config.runtime.mode,
        startedAt: services.startedAt.toISOString(),
        sandboxes: {
          total: sandboxes.length,
          running: sandboxes.filter((s) => s.state === 'running').length,
        },
        baseImage: {
          name: await services.runtime.image.reference(),
          present: await services.runtime.image.present(),
        },
      };
    });

    app.get(R.system.doctor, everyone, async () => runDoctor(services));

    app.get(R.system.baseImage, everyone, async (): Promise<BaseImageReport> => ({
      image: await services.runtime.image.reference(),
      present: await services.runtime.image.present(),
    }));

    // Streams NDJSON progress lines so the CLI can draw a progress bar while debootstrap runs.
    app.post(R.system.baseImage, everyone, async (request, reply) => {
      const body = BuildImageRequest.parse(request.body ?? {});
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const send = (event: ImageBuildEvent) => reply.raw.write(`${JSON.stringify(event)}\n`);
      const started = Date.now();
      try {
        const result = await services.runtime.image.build(body.force, (p) =>
          send({ type: 'progress', ...p }),
        );
        send({
          type: 'done',
          image: result.image,
          cached: result.cached,
          seconds: (Date.now() - started) / 1000,
        });
      } catch (err) {
        services.logger.error({ err: messageOf(err) }, 'base image build failed');
        send({
          type: 'error',
          error: isAiboxError(err)
            ? { code: err.code, message: err.message, hint: err.hint }
            : { code: 'RUNTIME_IMAGE_BUILD', message: messageOf(err), hint: 'See the daemon log.' },
        });
      }
      reply.raw.end();
      return reply;
    });
  };
}
