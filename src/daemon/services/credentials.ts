import {
  SecretValue,
  createCredentials,
  credentialErrors,
  type CredentialProvider,
  type CredentialsConfig,
  type SecretAdmin,
  type SecretRedactor,
} from '../../credentials/index.js';
import type { SecretList, SecretRemovedReport, SecretSetReport } from '../../shared/index.js';
import type { Clock, Logger } from '../../shared/index.js';

/**
 * The daemon's secret backend: the provider the LLM proxy and git gateway read from, and the administration that
 * `aibox secret set/list/rm` reaches through /v1/secrets (embedded store only; Vault is administered with Vault).
 */
export class CredentialsService {
  private constructor(
    readonly provider: CredentialProvider,
    private readonly admin: SecretAdmin | undefined,
    readonly redactor: SecretRedactor,
  ) {}

  static async create(opts: {
    config: CredentialsConfig;
    stateDir: string;
    logger: Logger;
    clock: Clock;
    redactor: SecretRedactor;
  }): Promise<CredentialsService> {
    const { provider, admin } = await createCredentials(opts.config, opts);
    return new CredentialsService(provider, admin, opts.redactor);
  }

  async list(): Promise<SecretList> {
    return { backend: this.provider.backend, secrets: this.admin ? await this.admin.list() : [] };
  }

  async set(name: string, value: string): Promise<SecretSetReport> {
    await this.requireAdmin().set(name, new SecretValue(value));
    return { name, backend: this.provider.backend };
  }

  async remove(name: string): Promise<SecretRemovedReport> {
    if (!(await this.requireAdmin().remove(name))) {
      throw credentialErrors.create('CREDENTIAL_NOT_FOUND', `no secret named ${name} in the embedded store`, {
        name,
      });
    }
    return { removed: name };
  }

  close(): Promise<void> {
    return this.provider.close();
  }

  private requireAdmin(): SecretAdmin {
    if (!this.admin) {
      throw credentialErrors.create(
        'SECRET_STORE_READ_ONLY',
        'secrets are kept in Vault with this configuration',
      );
    }
    return this.admin;
  }
}
