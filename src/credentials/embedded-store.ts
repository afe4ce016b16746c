import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, stat, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Clock, Logger } from '../shared/index.js';
import { Mutex, readJsonFile, writeFileAtomic } from '../shared/fs/index.js';
import { SECRET_NAME_PATTERN, type CredentialKind, type CredentialTtls } from './config.js';
import { credentialErrors } from './errors.js';
import type { SecretRedactor } from './redact.js';
import { SecretValue } from './secret-value.js';
import type {
  Credential,
  CredentialProvider,
  GetCredentialOptions,
  SecretAdmin,
  SecretInfo,
} from './types.js';

const KEY_FILE = 'store.key';
const DATA_FILE = 'secrets.json';
const KEY_BYTES = 32;
const IV_BYTES = 12;
export const MAX_SECRET_BYTES = 64 * 1024;

const Entry = z.object({ iv: z.string(), tag: z.string(), data: z.string(), updatedAt: z.string() });
const StoreFile = z.object({ version: z.literal(1), secrets: z.record(z.string(), Entry) });
type StoreFile = z.infer<typeof StoreFile>;

export interface EmbeddedStoreOptions {
  /** Directory holding the key file and the encrypted data file (created 0700). */
  dir: string;
  ttl: CredentialTtls;
  kinds: Record<string, CredentialKind>;
  logger: Logger;
  clock: Clock;
  redactor: SecretRedactor;
}

/**
 * The single-machine secret store: one AES-256-GCM ciphertext per secret (the name is the additional authenticated
 * data, so entries cannot be swapped), a random 256-bit key in a 0600 file only the daemon user can read, and
 * atomic replace-by-rename writes. Values are decrypted only inside `get`.
 */
export class EmbeddedSecretStore implements CredentialProvider, SecretAdmin {
  readonly backend = 'embedded' as const;
  readonly #opts: EmbeddedStoreOptions;
  #key: Buffer | undefined;
  /** Decrypted credentials until their TTL ends, so a proxied call costs no disk read; writes invalidate. */
  readonly #cache = new Map<string, Credential>();
  /** Serializes writers inside this process; the atomic replace makes each write whole for readers. */
  readonly #writes = new Mutex();

  constructor(options: EmbeddedStoreOptions) {
    this.#opts = options;
  }

  get keyFile(): string {
    return join(this.#opts.dir, KEY_FILE);
  }

  get dataFile(): string {
    return join(this.#opts.dir, DATA_FILE);
  }

  /** Creates the directory and key on first use; refuses a key file others can read (fail closed). */
  async open(): Promise<void> {
    if (this.#key) return;
    await mkdir(this.#opts.dir, { recursive: true, mode: 0o700 });
    await chmod(this.#opts.dir, 0o700);
    try {
      const handle = await open(
        this.keyFile,
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL,
        0o600,
      );
      try {
        await handle.writeFile(randomBytes(KEY_BYTES));
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.#opts.logger.info({ keyFile: this.keyFile }, 'created embedded secret store key');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const info = await stat(this.keyFile);
    if (
      (info.mode & 0o077) !== 0 ||
      (typeof process.getuid === 'function' && info.uid !== process.getuid())
    ) {
      throw credentialErrors.create(
        'SECRET_STORE_KEY_INSECURE',
        `the embedded store key file ${this.keyFile} is readable by others (mode ${(info.mode & 0o777).toString(8)}) or not owned by the daemon user`,
        { keyFile: this.keyFile },
      );
    }
    const key = await readFile(this.keyFile);
    if (key.length !== KEY_BYTES) {
      throw credentialErrors.create(
        'SECRET_STORE_CORRUPT',
        `the embedded store key file ${this.keyFile} is not a 256-bit key`,
      );
    }
    this.#key = key;
  }

  async get(name: string, options: GetCredentialOptions = {}): Promise<Credential> {
    validateName(name);
    const kind = options.kind ?? this.#opts.kinds[name] ?? 'generic';
    const cached = this.#cache.get(name);
    if (cached && cached.kind === kind && this.#opts.clock.now() < cached.expiresAt) return cached;
    const file = await this.#read();
    const entry = file.secrets[name];
    if (!entry)
      throw credentialErrors.create('CREDENTIAL_NOT_FOUND', `no secret named ${name} in the embedded store`, {
        name,
      });
    const value = this.#decrypt(name, entry);
    this.#opts.redactor.add(value);
    const cred: Credential = {
      name,
      kind,
      value: new SecretValue(value),
      expiresAt: this.#opts.clock.now() + this.#opts.ttl[kind],
      source: 'embedded',
    };
    this.#cache.set(name, cred);
    return cred;
  }

  async set(name: string, value: SecretValue): Promise<void> {
    validateName(name);
    const raw = value.reveal();
    if (raw.length === 0 || Buffer.byteLength(raw) > MAX_SECRET_BYTES) {
      throw credentialErrors.create(
        'CREDENTIAL_VALUE_INVALID',
        `the value for ${name} is empty or larger than 64 KiB`,
      );
    }
    this.#opts.redactor.add(raw);
    await this.#mutate((file) => {
      file.secrets[name] = this.#encrypt(name, raw);
      return true;
    });
    this.#cache.delete(name);
    this.#opts.logger.info({ secret: name }, 'secret stored');
  }

  async list(): Promise<SecretInfo[]> {
    const file = await this.#read();
    return Object.entries(file.secrets)
      .map(([name, e]) => ({ name, updatedAt: e.updatedAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async remove(name: string): Promise<boolean> {
    validateName(name);
    const removed = await this.#mutate((file) => {
      if (!(name in file.secrets)) return false;
      delete file.secrets[name];
      return true;
    });
    this.#cache.delete(name);
    if (removed) this.#opts.logger.info({ secret: name }, 'secret removed');
    return removed;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #encrypt(name: string, value: string): z.infer<typeof Entry> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#requireKey(), iv);
    cipher.setAAD(Buffer.from(name));
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return {
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
      updatedAt: new Date(this.#opts.clock.now()).toISOString(),
    };
  }

  #decrypt(name: string, entry: z.infer<typeof Entry>): string {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#requireKey(), Buffer.from(entry.iv, 'base64'));
      decipher.setAAD(Buffer.from(name));
      decipher.setAuthTag(Buffer.from(entry.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(entry.data, 'base64')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw credentialErrors.create(
        'SECRET_STORE_CORRUPT',
        `the secret ${name} cannot be decrypted with the store key`,
        {
          name,
        },
      );
    }
  }

  #requireKey(): Buffer {
    if (!this.#key) throw new Error('EmbeddedSecretStore.open() was not called');
    return this.#key;
  }

  async #read(): Promise<StoreFile> {
    await this.open();
    const file = await readJsonFile(this.dataFile, StoreFile, {
      invalid: () =>
        credentialErrors.create(
          'SECRET_STORE_CORRUPT',
          `the embedded store ${this.dataFile} is not a valid store file`,
        ),
    });
    return file ?? { version: 1, secrets: {} };
  }

  async #mutate(change: (file: StoreFile) => boolean): Promise<boolean> {
    return this.#writes.run(async () => {
      const file = await this.#read();
      if (!change(file)) return false;
      // 0600 in the 0700 folder: only the daemon user reads the ciphertexts.
      await writeFileAtomic(this.dataFile, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
      return true;
    });
  }
}

function validateName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw credentialErrors.create(
      'CREDENTIAL_NAME_INVALID',
      `invalid secret name ${JSON.stringify(name.slice(0, 140))}`,
    );
  }
}
