import { z } from 'zod';
import { isLoopback } from './address.js';

/**
 * `dashboard:` in aiboxd.yaml: the web dashboard on a port of its own, for daemons without the network listener
 * (`sessions.listener.dashboard` serves it there instead). Off by default: a security daemon opens no TCP port it
 * was not asked to. Loopback only unless TLS is configured; the port serves the dashboard and nothing else (no
 * bearer-token API for programs).
 */
export const DashboardConfig = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe('Serve the web dashboard on host:port (log in with an admin token).'),
    host: z.string().min(1).default('127.0.0.1').describe('Address to bind: loopback unless tls is set.'),
    port: z.number().int().min(0).max(65535).default(7374).describe('TCP port (0: any free port, logged).'),
    tls: z
      .object({
        cert: z.string().startsWith('/').describe('PEM certificate chain file.'),
        key: z.string().startsWith('/').describe('PEM private key file (readable by root only).'),
      })
      .strict()
      .optional(),
  })
  .strict()
  // A session cookie and the token behind it never cross a network in clear text.
  .refine((d) => !d.enabled || isLoopback(d.host) || d.tls !== undefined, {
    message: 'the dashboard on a non-loopback address needs tls.cert and tls.key (or bind it to 127.0.0.1)',
    path: ['host'],
  });
export type DashboardConfig = z.infer<typeof DashboardConfig>;
