import type { CredentialKind } from './config.js';
import type { SecretValue } from './secret-value.js';

/** A credential as handed to host-side gateways (LLM proxy, git gateway). The value is wrapped so it never logs. */
export interface Credential {
  readonly name: string;
  readonly kind: CredentialKind;
  readonly value: SecretValue;
  /** Epoch ms after which the value must not be used any more (fail closed). */
  readonly expiresAt: number;
  readonly source: 'vault' | 'embedded';
}

export interface GetCredentialOptions {
  /** Chooses the default TTL (git 4 h, llm 8 h, package-mirror 8 h) when the backend gives none. */
  kind?: CredentialKind;
}

/** The one interface every consumer of secrets uses; both backends implement it. */
export interface CredentialProvider {
  readonly backend: 'vault' | 'embedded';
  get(name: string, options?: GetCredentialOptions): Promise<Credential>;
  /** Stops background renewal; idempotent. */
  close(): Promise<void>;
}

export interface SecretInfo {
  name: string;
  updatedAt: string;
}

/** Administration of the embedded store (`aibox secret set/list/rm`). Vault is administered with Vault's tools. */
export interface SecretAdmin {
  set(name: string, value: SecretValue): Promise<void>;
  list(): Promise<SecretInfo[]>;
  /** Returns false when there was no such secret. */
  remove(name: string): Promise<boolean>;
}
