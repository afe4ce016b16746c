import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CredentialsConfig,
  SecretValue,
  VaultConfig,
  VaultCredentialProvider,
  type ResolvedVaultAuth,
} from '../../src/credentials/index.js';
import { FakeVault } from '../support/fake-vault.js';
import { captureLogs, ManualClock } from './helpers.js';

const ROOTISH_TOKEN = 'hvs.static-token-for-tests-0001';
const ROLE_ID = 'role-aibox-daemon';
const SECRET_ID = 'secret-id-never-logged-9f8e7d';
const LLM_KEY = 'sk-ant-api03-vault-value-1111';
const LLM_KEY_ROTATED = 'sk-ant-api03-vault-value-2222';
const MIN = 60_000;
const HOUR = 60 * MIN;

describe('VaultCredentialProvider against a Vault-API server over HTTP', () => {
  let clock: ManualClock;
  let vault: FakeVault;
  let log: ReturnType<typeof captureLogs>;
  const providers: VaultCredentialProvider[] = [];

  function provider(auth: ResolvedVaultAuth, extra: Record<string, unknown> = {}): VaultCredentialProvider {
    const p = new VaultCredentialProvider({
      config: VaultConfig.parse({
        address: vault.address,
        auth: { method: 'token', tokenFile: '/unused' },
        ...extra,
      }),
      auth,
      ttl: CredentialsConfig.parse({}).ttl,
      kinds: { 'anthropic-api-key': 'llm', 'git-token': 'git' },
      logger: log.logger,
      clock,
      redactor: log.redactor,
    });
    providers.push(p);
    return p;
  }
  const approle: ResolvedVaultAuth = {
    method: 'approle',
    roleId: ROLE_ID,
    secretId: new SecretValue(SECRET_ID),
    mount: 'approle',
  };

  beforeEach(async () => {
    clock = new ManualClock();
    vault = new FakeVault(clock);
    await vault.start();
    log = captureLogs();
    vault.addToken(ROOTISH_TOKEN, { ttl: 0 });
    vault.addAppRole(ROLE_ID, SECRET_ID, { tokenTtl: 3600 });
    vault.putKv('aibox/anthropic-api-key', { value: LLM_KEY });
    vault.putKv('aibox/git-token', { value: 'ghp_gitvalue_abcdef' });
  });

  afterEach(async () => {
    for (const p of providers.splice(0)) await p.close();
    await vault.stop();
    // No secret value, token or secret_id ever reaches a log line.
    const all = log.lines.join('');
    for (const s of [ROOTISH_TOKEN, SECRET_ID, LLM_KEY, LLM_KEY_ROTATED, 'ghp_gitvalue_abcdef', 'hvs.']) {
      expect(all).not.toContain(s);
    }
  });

  it('reads a KV v2 secret with token auth, with the default TTL of its kind', async () => {
    const p = provider({ method: 'token', token: new SecretValue(ROOTISH_TOKEN) });
    const cred = await p.get('anthropic-api-key');
    expect(cred.value.reveal()).toBe(LLM_KEY);
    expect(cred.source).toBe('vault');
    expect(cred.expiresAt - clock.now()).toBe(8 * HOUR);
    expect((await p.get('git-token')).expiresAt - clock.now()).toBe(4 * HOUR);
    expect(vault.count('GET', '/v1/auth/token/lookup-self')).toBe(1);
    expect(vault.count('GET', '/v1/secret/data/aibox/anthropic-api-key')).toBe(1);
  });

  it('serves repeated gets from the cache', async () => {
    const p = provider(approle);
    await Promise.all([p.get('anthropic-api-key'), p.get('anthropic-api-key'), p.get('anthropic-api-key')]);
    await p.get('anthropic-api-key');
    expect(vault.count('GET', '/v1/secret/data/aibox/anthropic-api-key')).toBe(1);
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(1);
  });

  it('logs in with AppRole and renews the token with renew-self before it expires', async () => {
    const p = provider(approle);
    const loginAt = clock.now();
    await p.get('anthropic-api-key');
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(1);
    clock.advance(44 * MIN);
    await p.tick();
    expect(vault.count('POST', '/v1/auth/token/renew-self')).toBe(0);
    clock.advance(2 * MIN); // 46 min of a 60 min token: past the 0.75 refresh point, before expiry
    await p.tick();
    expect(vault.count('POST', '/v1/auth/token/renew-self')).toBe(1);
    const renewedAt = vault.requests.find((r) => r.path === '/v1/auth/token/renew-self')!.at;
    expect(renewedAt - loginAt).toBeLessThan(HOUR);
    // Past the original expiry, the renewed token still reads secrets without a new login.
    clock.advance(30 * MIN);
    vault.putKv('aibox/other', { value: 'other-value-xyz' });
    expect((await p.get('other')).value.reveal()).toBe('other-value-xyz');
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(1);
  });

  it('logs in again with AppRole when the token was revoked', async () => {
    const p = provider(approle);
    await p.get('anthropic-api-key');
    vault.putKv('aibox/second', { value: 'second-value-xyz' });
    vault.revokeAllTokens();
    expect((await p.get('second')).value.reveal()).toBe('second-value-xyz');
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(2);
  });

  it('refreshes a credential before its TTL ends and picks up a rotated value', async () => {
    const p = provider(approle, { secrets: { 'anthropic-api-key': { kind: 'llm' } } });
    await p.get('anthropic-api-key');
    vault.putKv('aibox/anthropic-api-key', { value: LLM_KEY_ROTATED });
    clock.advance(6 * HOUR + MIN); // past 0.75 of 8 h
    await p.tick();
    expect(vault.count('GET', '/v1/secret/data/aibox/anthropic-api-key')).toBe(2);
    expect((await p.get('anthropic-api-key')).value.reveal()).toBe(LLM_KEY_ROTATED);
  });

  it('keeps a cached key working through a Vault outage until its TTL ends, then fails closed, then recovers', async () => {
    const p = provider(approle);
    const first = await p.get('anthropic-api-key');
    await vault.stop();

    clock.advance(7 * HOUR); // refresh point passed, Vault down: the cached key is still served
    await p.tick();
    expect((await p.get('anthropic-api-key')).value.reveal()).toBe(LLM_KEY);

    clock.advance(HOUR); // TTL over
    const err = await p.get('anthropic-api-key').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CREDENTIAL_UNAVAILABLE', status: 503 });
    expect(String((err as Error).message)).toContain('ECONNREFUSED');
    expect(JSON.stringify(err)).not.toContain(LLM_KEY);
    expect(first.expiresAt).toBeLessThanOrEqual(clock.now());

    await vault.start(); // Vault is back: service resumes on the next request
    expect((await p.get('anthropic-api-key')).value.reveal()).toBe(LLM_KEY);
    expect(log.lines.some((l) => l.includes('credential refresh failed'))).toBe(true);
  });

  it('uses and renews the lease of a leased (dynamic) secret', async () => {
    vault.putLeased('database/creds/mirror', { password: 'mirror-pass-abcdef' }, { leaseDuration: 600 });
    const p = provider(approle, {
      secrets: { 'mirror-token': { engine: 'logical', path: 'database/creds/mirror', field: 'password' } },
    });
    const cred = await p.get('mirror-token', { kind: 'package-mirror' });
    expect(cred.value.reveal()).toBe('mirror-pass-abcdef');
    expect(cred.expiresAt - clock.now()).toBe(600_000);
    clock.advance(8 * MIN);
    await p.tick();
    expect(vault.count('PUT', '/v1/sys/leases/renew')).toBe(1);
    expect((await p.get('mirror-token')).expiresAt - clock.now()).toBe(600_000);
  });

  it('reports a missing secret as CREDENTIAL_NOT_FOUND and a bad login as VAULT_AUTH_FAILED', async () => {
    const p = provider(approle);
    await expect(p.get('nope')).rejects.toMatchObject({ code: 'CREDENTIAL_NOT_FOUND', status: 404 });
    const bad = provider({ ...approle, secretId: new SecretValue('wrong-secret-id-000') });
    await expect(bad.get('anthropic-api-key')).rejects.toMatchObject({ code: 'VAULT_AUTH_FAILED' });
  });

  it('drops a cached credential that was deleted from Vault', async () => {
    const p = provider(approle);
    await p.get('git-token');
    vault.deleteKv('aibox/git-token');
    clock.advance(3 * HOUR + 1);
    await p.tick();
    await expect(p.get('git-token')).rejects.toMatchObject({ code: 'CREDENTIAL_NOT_FOUND' });
  });
});
