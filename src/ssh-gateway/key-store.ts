import { z } from 'zod';
import { Mutex, readJsonFile, writeJsonAtomic } from '../shared/fs/index.js';
import type { Clock } from '../shared/index.js';
import { sshErrors } from './errors.js';
import { parsePublicKeyLine, type PublicKeyLine } from './keys.js';

export const RegisteredKey = z.object({
  fingerprint: z.string(),
  type: z.string(),
  blobBase64: z.string(),
  comment: z.string(),
  addedAt: z.string(),
});
export type RegisteredKey = z.infer<typeof RegisteredKey>;

const StoreFile = z.object({ version: z.literal(1), keys: z.array(RegisteredKey) });

/**
 * The public keys allowed to log in to the gateway, kept in one JSON file (0600) in the daemon's state directory.
 * The daemon is the only writer; writes go through a temp file and a rename so a crash never leaves half a file.
 */
export class KeyStore {
  private keys: RegisteredKey[] | undefined;
  private readonly writes = new Mutex();

  constructor(
    private readonly file: string,
    private readonly clock: Clock,
  ) {}

  async list(): Promise<RegisteredKey[]> {
    return [...(await this.load())];
  }

  /** Registers every public key line in `text` (a .pub file holds one). */
  add(text: string): Promise<RegisteredKey[]> {
    return this.serialize(async () => {
      const lines = text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
      if (/PRIVATE KEY/.test(text)) throw sshErrors.create('SSH_KEY_IS_PRIVATE', 'refusing a private key');
      if (lines.length === 0) throw sshErrors.create('SSH_KEY_INVALID', 'no public key in the given text');
      const parsed: PublicKeyLine[] = [];
      for (const line of lines) {
        const outcome = parsePublicKeyLine(line);
        if (!outcome.ok) {
          if (outcome.problem === 'private')
            throw sshErrors.create('SSH_KEY_IS_PRIVATE', 'refusing a private key');
          throw sshErrors.create('SSH_KEY_INVALID', `not a usable public key: ${outcome.detail}`);
        }
        parsed.push(outcome.key);
      }
      const keys = await this.load();
      const added: RegisteredKey[] = [];
      for (const key of parsed) {
        if (
          keys.some((k) => k.fingerprint === key.fingerprint) ||
          added.some((k) => k.fingerprint === key.fingerprint)
        ) {
          throw sshErrors.create('SSH_KEY_EXISTS', `key ${key.fingerprint} is already registered`, {
            fingerprint: key.fingerprint,
          });
        }
        added.push({ ...key, addedAt: new Date(this.clock.now()).toISOString() });
      }
      await this.save([...keys, ...added]);
      return added;
    });
  }

  /** Removes a key named by fingerprint or by its comment (when unambiguous). */
  remove(selector: string): Promise<RegisteredKey> {
    return this.serialize(async () => {
      const keys = await this.load();
      let matches = keys.filter((k) => k.fingerprint === selector || k.fingerprint === `SHA256:${selector}`);
      if (matches.length === 0) matches = keys.filter((k) => k.comment !== '' && k.comment === selector);
      if (matches.length === 0)
        throw sshErrors.create('SSH_KEY_NOT_FOUND', `no registered key matches ${selector}`);
      if (matches.length > 1)
        throw sshErrors.create('SSH_KEY_AMBIGUOUS', `${matches.length} keys match ${selector}`);
      const victim = matches[0]!;
      await this.save(keys.filter((k) => k !== victim));
      return victim;
    });
  }

  /** The registered key with this wire blob, if any. */
  async lookup(blob: Buffer): Promise<RegisteredKey | undefined> {
    const b64 = blob.toString('base64');
    return (await this.load()).find((k) => k.blobBase64 === b64);
  }

  private async load(): Promise<RegisteredKey[]> {
    if (this.keys) return this.keys;
    const stored = await readJsonFile(this.file, StoreFile, {
      invalid: (message) => sshErrors.create('SSH_KEY_STORE_CORRUPT', message),
    });
    return (this.keys = stored?.keys ?? []);
  }

  private async save(keys: RegisteredKey[]): Promise<void> {
    await writeJsonAtomic(this.file, { version: 1, keys }, { mode: 0o600, mkdirMode: 0o700 });
    this.keys = keys;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.run(fn);
  }
}
