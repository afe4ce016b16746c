import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type { SshGatewayReport, SshKeyReport } from '../../shared/api/ssh-keys.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/ssh-keys.js');

/** The SSH gateway (IDE access): its address and host key, and the public keys allowed to log in. */
export class SshKeysApi {
  constructor(private readonly api: ApiCore) {}

  async gateway(): Promise<SshGatewayReport> {
    const s = await schemas();
    return this.api.json('GET', R.sshKeys.gateway, bySchema(s.SshGatewayReport));
  }

  async list(): Promise<SshKeyReport[]> {
    const s = await schemas();
    return (await this.api.json('GET', R.sshKeys.collection, bySchema(s.SshKeyList))).keys;
  }

  /** Adds every key of an OpenSSH public key file's text. */
  async add(publicKey: string): Promise<SshKeyReport[]> {
    const s = await schemas();
    return (await this.api.json('POST', R.sshKeys.collection, bySchema(s.SshKeyList), { publicKey })).keys;
  }

  /** Removes a key by fingerprint (SHA256:…) or comment. */
  async remove(key: string): Promise<SshKeyReport> {
    const s = await schemas();
    return this.api.json('DELETE', routePath(R.sshKeys.collection, {}, { key }), bySchema(s.SshKeyReport));
  }
}
