import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import {
  AddSshKeyRequest,
  API_ROUTES as R,
  RemoveSshKeyQuery,
  type SshGatewayReport,
  type SshKeyReport,
} from '../../shared/index.js';
import type { DaemonServices } from '../services/index.js';
import { open, rootOnly } from '../http/access.js';

/** /v1/ssh-keys (registered public keys) and /v1/ssh/gateway (what `aibox ssh-config` writes). */
export function sshKeyRoutes(services: DaemonServices): FastifyPluginAsync {
  // The gateway is a lifecycle layer; it also holds the registered keys.
  const gateway = services.ssh;
  return async (app) => {
    app.get(R.sshKeys.gateway, { config: { access: open } }, async (): Promise<SshGatewayReport> => {
      const info = gateway.info();
      if (!info) {
        const { host, port, hostKeyAlias } = gateway.config;
        return { enabled: false, host, port, hostKeyAlias };
      }
      const knownHosts = await readFile(info.knownHostsFile, 'utf8').catch(() => undefined);
      return { enabled: true, ...info, ...(knownHosts !== undefined ? { knownHosts } : {}) };
    });

    app.get(R.sshKeys.collection, { config: { access: open } }, async () => ({
      keys: (await gateway.listKeys()).map(toReport),
    }));

    app.post(R.sshKeys.collection, { config: { access: rootOnly } }, async (request, reply) => {
      const body = AddSshKeyRequest.parse(request.body ?? {});
      const added = await gateway.addKey(body.publicKey);
      return reply.status(201).send({ keys: added.map(toReport) });
    });

    app.delete(R.sshKeys.collection, { config: { access: rootOnly } }, async (request) => {
      const { key } = RemoveSshKeyQuery.parse(request.query ?? {});
      return toReport(await gateway.removeKey(key));
    });
  };
}

function toReport(k: SshKeyReport): SshKeyReport {
  return { fingerprint: k.fingerprint, type: k.type, comment: k.comment, addedAt: k.addedAt };
}
