import { isIP } from 'node:net';
import { dashboardErrors } from './errors.js';

/**
 * Whether the dashboard may be served on this address: loopback always, anything else only with TLS (a session
 * cookie and an API token must never cross a network in clear).
 */
export function assertDashboardAddress(host: string, tls: boolean): void {
  if (tls || isLoopback(host)) return;
  throw dashboardErrors.create('DASHBOARD_INSECURE', `the dashboard would be served without TLS on ${host}`, {
    host,
  });
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return /^::ffff:127\./i.test(h);
}
