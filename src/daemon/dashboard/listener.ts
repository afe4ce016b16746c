import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../shared/index.js';
import { startNetworkListener, type NetworkListener } from '../http/token-auth.js';
import type { DashboardConfig } from './config.js';

/**
 * The dashboard's own port, for a daemon whose network listener is off (or serves programs only): the same app,
 * its requests marked as network requests (token authentication, no uid) and as dashboard-port requests, which
 * registerDashboard refuses unless they carry a dashboard session (or load the page, its assets, the login).
 * registerDashboard must have run on `app` (app.ts does when `dashboard.enabled`).
 */
export async function startDashboardListener(
  app: FastifyInstance,
  config: DashboardConfig,
  logger: Logger,
): Promise<NetworkListener> {
  if (!app.hasDecorator('dashboardPortRequests')) {
    // Without the dashboard's checks this port would be a bearer-token listener nobody asked for.
    throw new Error('the dashboard is not registered on this app');
  }
  const marked = app.dashboardPortRequests;
  return startNetworkListener(
    app,
    {
      enabled: true,
      host: config.host,
      port: config.port,
      dashboard: true,
      ...(config.tls ? { tls: config.tls } : {}),
    },
    logger.child({ listener: 'dashboard' }),
    (raw) => marked.add(raw),
  );
}
