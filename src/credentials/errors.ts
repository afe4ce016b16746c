import { defineErrors } from '../shared/index.js';

/** Error catalogue of the credentials module. Messages name the secret, never its value. */
export const credentialErrors = defineErrors({
  CREDENTIAL_NAME_INVALID: {
    status: 400,
    hint: 'Secret names are letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters.',
  },
  CREDENTIAL_VALUE_INVALID: {
    status: 400,
    hint: 'Pass a non-empty value of at most 64 KiB on stdin (`printf %s "$KEY" | aibox secret set NAME`).',
  },
  CREDENTIAL_NOT_FOUND: {
    status: 404,
    hint: 'Store it with `aibox secret set NAME` (embedded store) or write it to the configured Vault path.',
  },
  CREDENTIAL_UNAVAILABLE: {
    status: 503,
    hint: 'The secret backend is unreachable and no cached value is still valid: check Vault (`vault status`, the daemon log); requests fail closed until it answers again.',
  },
  VAULT_AUTH_FAILED: {
    status: 503,
    hint: 'Check the Vault token file or AppRole role id / secret id file in the daemon config, and that the token is not expired.',
  },
  VAULT_CONFIG_INVALID: {
    status: 400,
    hint: 'Fix `credentials.vault` in the daemon config: address, auth method and the files it names.',
  },
  SECRET_STORE_KEY_INSECURE: {
    status: 500,
    hint: 'The embedded store key file must be owned by the daemon user and mode 0600: `chmod 600 <file>`; the daemon refuses to start otherwise.',
  },
  SECRET_STORE_CORRUPT: {
    status: 500,
    hint: 'The embedded secret store cannot be decrypted with its key file: restore both from backup, or move them away and `aibox secret set` again.',
  },
  SECRET_STORE_READ_ONLY: {
    status: 409,
    hint: 'Secrets live in Vault with this configuration: write them with `vault kv put` instead of `aibox secret`.',
  },
});
