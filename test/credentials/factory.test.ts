import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CredentialsConfig,
  createCredentials,
  type CredentialsConfigInput,
} from '../../src/credentials/index.js';
import { FakeVault } from '../support/fake-vault.js';
import { captureLogs, ManualClock, selfSignedCert } from './helpers.js';

const TOKEN = 'hvs.factory-test-token-abcdef123456';
const KEY = 'sk-ant-api03-factory-value-000111';

describe('createCredentials with Vault', () => {
  let dir: string;
  let clock: ManualClock;
  let log: ReturnType<typeof captureLogs>;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-factory-'));
    clock = new ManualClock();
    log = captureLogs();
  });

  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
    expect(log.lines.join('')).not.toContain(TOKEN);
    expect(log.lines.join('')).not.toContain(KEY);
  });

  async function vault(tls?: { key: string; cert: string }): Promise<FakeVault> {
    const v = new FakeVault(clock, 'secret', tls);
    await v.start();
    stops.push(() => v.stop());
    v.addToken(TOKEN, { ttl: 3600 });
    v.putKv('aibox/anthropic-api-key', { value: KEY });
    return v;
  }

  async function build(input: CredentialsConfigInput) {
    const c = await createCredentials(CredentialsConfig.parse(input), {
      stateDir: dir,
      logger: log.logger,
      clock,
      redactor: log.redactor,
    });
    stops.push(() => c.provider.close());
    return c;
  }

  it('reads the token from a 0600 file and serves secrets, with no admin for Vault', async () => {
    const v = await vault();
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const { provider, admin } = await build({
      vault: { address: v.address, auth: { method: 'token', tokenFile } },
    });
    expect(provider.backend).toBe('vault');
    expect(admin).toBeUndefined();
    expect((await provider.get('anthropic-api-key')).value.reveal()).toBe(KEY);
  });

  it('refuses a token file that others can read, naming the key and the fix', async () => {
    const v = await vault();
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, TOKEN);
    await chmod(tokenFile, 0o644);
    const err = await build({ vault: { address: v.address, auth: { method: 'token', tokenFile } } }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'VAULT_CONFIG_INVALID', status: 400 });
    expect((err as Error).message).toContain('credentials.vault.auth.tokenFile');
    expect((err as Error).message).toContain('chmod 600');
    expect(JSON.stringify(err)).not.toContain(TOKEN);
  });

  const cert = selfSignedCert(join(tmpdir(), `aibox-vault-tls-${process.pid}`));
  it.skipIf(!cert)(
    'verifies Vault over TLS with the configured CA and refuses an unknown certificate',
    async () => {
      const v = await vault({ key: cert!.key, cert: cert!.cert });
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, TOKEN, { mode: 0o600 });
      const trusting = await build({
        vault: { address: v.address, caFile: cert!.certFile, auth: { method: 'token', tokenFile } },
      });
      expect((await trusting.provider.get('anthropic-api-key')).value.reveal()).toBe(KEY);
      const strict = await build({ vault: { address: v.address, auth: { method: 'token', tokenFile } } });
      const err = await strict.provider.get('anthropic-api-key').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CREDENTIAL_UNAVAILABLE' });
      expect((err as Error).message).toMatch(/SELF_SIGNED|CERT|certificate/i);
    },
  );
});
