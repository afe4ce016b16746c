import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CredentialsConfig,
  EmbeddedSecretStore,
  SecretValue,
  createCredentials,
} from '../../src/credentials/index.js';
import { captureLogs, ManualClock } from './helpers.js';

const KEY = 'sk-ant-api03-embedded-test-value';

describe('EmbeddedSecretStore', () => {
  let dir: string;
  let clock: ManualClock;
  let log: ReturnType<typeof captureLogs>;
  let store: EmbeddedSecretStore;

  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'aibox-secrets-')), 'secrets');
    clock = new ManualClock();
    log = captureLogs();
    store = new EmbeddedSecretStore({
      dir,
      ttl: CredentialsConfig.parse({}).ttl,
      kinds: { 'anthropic-api-key': 'llm' },
      logger: log.logger,
      clock,
      redactor: log.redactor,
    });
    await store.open();
  });

  afterEach(async () => {
    expect(log.lines.join('')).not.toContain(KEY);
    await rm(dirname(dir), { recursive: true, force: true });
  });

  it('returns what was stored, with the TTL of its kind', async () => {
    await store.set('anthropic-api-key', new SecretValue(KEY));
    const cred = await store.get('anthropic-api-key');
    expect(cred.value.reveal()).toBe(KEY);
    expect(cred.kind).toBe('llm');
    expect(cred.expiresAt - clock.now()).toBe(8 * 3600_000);
    expect((await store.get('anthropic-api-key', { kind: 'git' })).expiresAt - clock.now()).toBe(
      4 * 3600_000,
    );
  });

  it('keeps values encrypted at rest and the key readable only by the daemon user', async () => {
    await store.set('anthropic-api-key', new SecretValue(KEY));
    const onDisk = await readFile(store.dataFile, 'utf8');
    expect(onDisk).not.toContain(KEY);
    expect(onDisk).not.toContain(Buffer.from(KEY).toString('base64'));
    expect((await stat(store.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(store.dataFile)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('lists names and dates but never values, and removes secrets', async () => {
    await store.set('b-token', new SecretValue('value-bbbbbb'));
    await store.set('a-token', new SecretValue('value-aaaaaa'));
    const list = await store.list();
    expect(list.map((s) => s.name)).toEqual(['a-token', 'b-token']);
    expect(JSON.stringify(list)).not.toContain('value-');
    expect(await store.remove('a-token')).toBe(true);
    expect(await store.remove('a-token')).toBe(false);
    await expect(store.get('a-token')).rejects.toMatchObject({ code: 'CREDENTIAL_NOT_FOUND', status: 404 });
  });

  it('refuses to open a key file that others can read (fail closed)', async () => {
    await chmod(store.keyFile, 0o644);
    const again = new EmbeddedSecretStore({
      dir,
      ttl: CredentialsConfig.parse({}).ttl,
      kinds: {},
      logger: log.logger,
      clock,
      redactor: log.redactor,
    });
    await expect(again.open()).rejects.toMatchObject({ code: 'SECRET_STORE_KEY_INSECURE' });
  });

  it('detects tampering and entries moved to another name', async () => {
    await store.set('one', new SecretValue('first-value'));
    await store.set('two', new SecretValue('second-value'));
    const file = JSON.parse(await readFile(store.dataFile, 'utf8'));
    file.secrets.two = file.secrets.one;
    await writeFile(store.dataFile, JSON.stringify(file));
    await expect(store.get('two')).rejects.toMatchObject({ code: 'SECRET_STORE_CORRUPT' });
    expect((await store.get('one')).value.reveal()).toBe('first-value');
  });

  it('rejects bad names and empty values with stable 4xx codes', async () => {
    await expect(store.set('../etc/passwd', new SecretValue('x'))).rejects.toMatchObject({
      code: 'CREDENTIAL_NAME_INVALID',
      status: 400,
    });
    await expect(store.set('ok', new SecretValue(''))).rejects.toMatchObject({
      code: 'CREDENTIAL_VALUE_INVALID',
      status: 400,
    });
  });

  it('keeps every concurrent write and leaves no temporary files', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.set(`s${i}`, new SecretValue(`value-${i}-xxxx`))),
    );
    expect((await store.list()).length).toBe(20);
    expect((await readdir(dir)).sort()).toEqual(['secrets.json', 'store.key']);
  });

  it('is the backend createCredentials builds when no Vault is configured', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aibox-state-'));
    const { provider, admin } = await createCredentials(CredentialsConfig.parse({}), {
      stateDir: root,
      logger: log.logger,
      clock,
      redactor: log.redactor,
    });
    expect(provider.backend).toBe('embedded');
    await admin!.set('x-token', new SecretValue('value-in-state-dir'));
    expect((await provider.get('x-token')).value.reveal()).toBe('value-in-state-dir');
    expect(await readdir(join(root, 'secrets'))).toContain('store.key');
  });
});
