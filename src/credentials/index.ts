// The credentials module: the only place raw secrets live. Consumers get a CredentialProvider and reveal a value
// only while writing it into an outgoing request.
export * from './config.js';
export * from './errors.js';
export * from './secret-value.js';
export * from './types.js';
export * from './redact.js';
export { EmbeddedSecretStore, MAX_SECRET_BYTES, type EmbeddedStoreOptions } from './embedded-store.js';
export {
  VaultCredentialProvider,
  type VaultProviderOptions,
  type ResolvedVaultAuth,
} from './vault-provider.js';
export { createCredentials, type Credentials, type CredentialsDeps } from './factory.js';
