import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, Logger } from '../shared/index.js';
import type { CredentialsConfig } from './config.js';
import { EmbeddedSecretStore } from './embedded-store.js';
import { credentialErrors } from './errors.js';
import type { SecretRedactor } from './redact.js';
import { SecretValue } from './secret-value.js';
import type { CredentialProvider, SecretAdmin } from './types.js';
import { VaultCredentialProvider, type ResolvedVaultAuth } from './vault-provider.js';

export interface CredentialsDeps {
  /** The daemon's state directory; the embedded store defaults to <stateDir>/secrets. */
  stateDir: string;
  logger: Logger;
  clock: Clock;
  redactor: SecretRedactor;
}

export interface Credentials {
  provider: CredentialProvider;
  /** Present for the embedded store only: Vault is administered with Vault's own tools. */
  admin: SecretAdmin | undefined;
}

/**
 * Builds the configured backend and checks it can work before the daemon accepts sandboxes (fail closed): the
 * embedded store opens its key, Vault's auth files are read and must not be readable by others.
 */
export async function createCredentials(
  config: CredentialsConfig,
  deps: CredentialsDeps,
): Promise<Credentials> {
  const logger = deps.logger.child({ module: 'credentials' });
  if (!config.vault) {
    const store = new EmbeddedSecretStore({
      dir: config.embedded.dir ?? join(deps.stateDir, 'secrets'),
      ttl: config.ttl,
      kinds: config.kinds,
      logger,
      clock: deps.clock,
      redactor: deps.redactor,
    });
    await store.open();
    return { provider: store, admin: store };
  }
  const vault = config.vault;
  const auth: ResolvedVaultAuth =
    vault.auth.method === 'token'
      ? { method: 'token', token: await readSecretFile(vault.auth.tokenFile, 'auth.tokenFile') }
      : {
          method: 'approle',
          roleId: vault.auth.roleId,
          secretId: await readSecretFile(vault.auth.secretIdFile, 'auth.secretIdFile'),
          mount: vault.auth.mount,
        };
  const ca = vault.caFile ? await readConfigFile(vault.caFile, 'caFile') : undefined;
  const provider = new VaultCredentialProvider({
    config: vault,
    auth,
    ...(ca ? { ca } : {}),
    ttl: config.ttl,
    kinds: config.kinds,
    logger,
    clock: deps.clock,
    redactor: deps.redactor,
  });
  provider.start();
  return { provider, admin: undefined };
}

async function readSecretFile(path: string, key: string): Promise<SecretValue> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch {
    throw credentialErrors.create('VAULT_CONFIG_INVALID', `credentials.vault.${key}: cannot read ${path}`);
  }
  if ((mode & 0o077) !== 0) {
    throw credentialErrors.create(
      'VAULT_CONFIG_INVALID',
      `credentials.vault.${key}: ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
  const value = (await readConfigFile(path, key)).trim();
  if (!value)
    throw credentialErrors.create('VAULT_CONFIG_INVALID', `credentials.vault.${key}: ${path} is empty`);
  return new SecretValue(value);
}

async function readConfigFile(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw credentialErrors.create('VAULT_CONFIG_INVALID', `credentials.vault.${key}: cannot read ${path}`);
  }
}
