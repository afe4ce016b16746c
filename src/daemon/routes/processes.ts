import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  API_ROUTES as R,
  KillProcessQuery,
  ProcessParams,
  type KilledProcess,
  type ProcessList,
} from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { sandboxParam } from '../http/access.js';

const NameParams = z.object({ name: z.string().min(1).max(128) });

/**
 * A sandbox's running processes, through its exec agent: list them, signal one. Whoever may exec in the sandbox
 * may do this (the same owner check), and the exec door decides each request as the command it stands for
 * (`ps`, `kill -SIG PID`), so a policy that refuses those commands refuses these routes too, with the refusal
 * recorded like any other decision.
 */
export function processRoutes(services: DaemonServices): FastifyPluginAsync {
  const sandboxes = services.sandboxes;
  return async (app) => {
    const mine = { config: { access: sandboxParam } };

    app.get(R.sandboxes.processes, mine, async (request): Promise<ProcessList> => {
      const { name } = NameParams.parse(request.params);
      await sandboxes.requireRunning(name);
      await services.policy.authorize('exec', { argv: ['ps'], via: 'api' }, name);
      return { processes: await sandboxes.processes(name) };
    });

    app.delete(R.sandboxes.process, mine, async (request): Promise<KilledProcess> => {
      const { name, pid } = ProcessParams.parse(request.params);
      const { signal } = KillProcessQuery.parse(request.query ?? {});
      await sandboxes.requireRunning(name);
      await services.policy.authorize(
        'exec',
        { argv: ['kill', `-${signal}`, String(pid)], via: 'api' },
        name,
      );
      await sandboxes.killProcess(name, pid, signal);
      return { pid, signal };
    });
  };
}
