import type { FastifyInstance } from 'fastify';
import type { DaemonServices } from '../services/index.js';
import { systemRoutes } from './system.js';
import { sandboxRoutes } from './sandboxes.js';
import { processRoutes } from './processes.js';
import { secretRoutes } from './secrets.js';
import { policyRoutes } from './policy.js';
import { auditRoutes } from './audit.js';
import { pushRoutes } from './pushes.js';
import { taskRoutes } from './tasks.js';
import { egressRoutes } from './egress.js';
import { proposalRoutes } from './proposals.js';
import { sshKeyRoutes } from './ssh-keys.js';
import { packRoutes } from './packs.js';
import { sessionRoutes } from './sessions.js';
import { compatRoutes } from './compat.js';
import { tokenRoutes } from './tokens.js';
import { metricsRoutes } from './metrics.js';
import { eventRoutes } from './events.js';
import { egressRequestRoutes } from './egress-requests.js';

/** One line per resource. Each route file validates its input with the zod schemas of src/shared/api. */
export async function registerRoutes(app: FastifyInstance, services: DaemonServices): Promise<void> {
  await app.register(systemRoutes(services));
  await app.register(sandboxRoutes(services));
  await app.register(processRoutes(services));
  await app.register(secretRoutes(services));
  await app.register(policyRoutes(services));
  await app.register(auditRoutes(services));
  await app.register(pushRoutes(services));
  await app.register(taskRoutes(services));
  await app.register(egressRoutes(services));
  await app.register(egressRequestRoutes(services));
  await app.register(proposalRoutes(services));
  await app.register(sshKeyRoutes(services));
  await app.register(packRoutes(services));
  const sessionApi = services.sessionApi;
  if (sessionApi) {
    await app.register(sessionRoutes(services, sessionApi));
    await app.register(compatRoutes(sessionApi));
    await app.register(tokenRoutes(sessionApi));
    await app.register(metricsRoutes(sessionApi));
  }
  await app.register(eventRoutes(services));
}
