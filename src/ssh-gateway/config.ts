import { isIP } from 'node:net';
import { z } from 'zod';

/** Loopback only: the gateway must never be a door reachable from another machine. */
function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export const SshGatewayConfig = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('Run the SSH gateway for IDEs (VS Code Remote-SSH, JetBrains Gateway).'),
    host: z
      .string()
      .default('127.0.0.1')
      .refine(isLoopback, {
        message:
          'the SSH gateway listens on a loopback address only (127.0.0.0/8 or ::1): anything else opens it to the network',
      })
      .describe('Address the gateway listens on; loopback only.'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(2222)
      .describe('TCP port of the gateway (0 picks a free port, for tests).'),
    hostKeyAlias: z
      .string()
      .regex(/^[a-zA-Z0-9._-]+$/)
      .default('aibox-gateway')
      .describe(
        'Name under which the gateway host key is written to the known_hosts file (ssh HostKeyAlias).',
      ),
    shell: z
      .string()
      .startsWith('/')
      .default('/bin/bash')
      .describe('Shell inside the sandbox for sessions and commands.'),
    sftpServer: z
      .string()
      .startsWith('/')
      .default('/usr/lib/openssh/sftp-server')
      .describe('sftp-server binary inside the sandbox image (Debian package openssh-sftp-server).'),
    envAllow: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/))
      .default([])
      .describe(
        'Extra environment variable names (a trailing * matches a prefix) a client may set, beyond the safe list.',
      ),
    maxChannelsPerConnection: z
      .number()
      .int()
      .positive()
      .default(64)
      .describe('Concurrent channels one SSH connection may hold open (VS Code opens several).'),
    maxUnauthenticated: z
      .number()
      .int()
      .positive()
      .default(32)
      .describe('Connections that have not authenticated yet, in all; more are closed at once.'),
    maxUnauthenticatedPerAddress: z
      .number()
      .int()
      .positive()
      .default(8)
      .describe('Unauthenticated connections from one source address; more are closed at once.'),
    authTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(10_000)
      .describe('A connection that has not authenticated within this time is closed.'),
    maxAuthAttempts: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe('Authentication requests one connection may make before it is closed.'),
  })
  .strict();
export type SshGatewayConfig = z.infer<typeof SshGatewayConfig>;
