import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenStore, requireScope, parseToken, MAX_ACTIVE_TOKENS } from '../../src/tokens/index.js';
import { isAiboxError } from '../../src/shared/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isAiboxError(err) ? err.code : `not an AiboxError: ${String(err)}`;
  }
  return undefined;
}

async function rejectsWith(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return isAiboxError(err) ? err.code : `not an AiboxError: ${String(err)}`;
  }
  return undefined;
}

describe('TokenStore', () => {
  let dir: string;
  let now: Date;
  const clock = () => now;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'aibox-tokens-'));
    now = new Date('2026-12-01T00:00:00Z');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the token once and keeps only a hash of its secret, in a 0600 file in a 0700 folder', async () => {
    const store = await TokenStore.open(dir, { now: clock });
    const created = await store.create({ name: 'ci', scope: 'sessions', team: 'ml' });
    expect(created.token).toMatch(/^aibox_tok_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ name: 'ci', scope: 'sessions', team: 'ml', state: 'active' });
    const file = TokenStore.fileIn(dir);
    const text = await readFile(file, 'utf8');
    const secret = parseToken(created.token)!.secret;
    expect(text).not.toContain(secret);
    expect(text).toContain(created.id);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(store.list().map((t) => 'token' in t)).toEqual([false]);
  });

  it('authenticates the exact token and refuses anything else as TOKEN_INVALID', async () => {
    const store = await TokenStore.open(dir, { now: clock });
    const { token, id } = await store.create({ name: 'ci' });
    expect(store.authenticate(token)).toEqual({ id, name: 'ci', scope: 'sessions', team: undefined });
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(codeOf(() => store.authenticate(token.slice(0, -1) + last))).toBe('TOKEN_INVALID');
    expect(codeOf(() => store.authenticate(`${token}x`))).toBe('TOKEN_INVALID');
    expect(codeOf(() => store.authenticate('aibox_tok_000000000000_' + 'A'.repeat(43)))).toBe(
      'TOKEN_INVALID',
    );
    expect(codeOf(() => store.authenticate('garbage'))).toBe('TOKEN_INVALID');
    expect(codeOf(() => store.authenticate(undefined))).toBe('TOKEN_MISSING');
    expect(codeOf(() => store.authenticate(''))).toBe('TOKEN_MISSING');
  });

  it('expires tokens at their deadline and revokes them at once, keeping them listed', async () => {
    const store = await TokenStore.open(dir, { now: clock });
    const short = await store.create({ name: 'short', expiresInSeconds: 60 });
    const other = await store.create({ name: 'other', scope: 'admin' });
    now = new Date(now.getTime() + 59_000);
    expect(store.authenticate(short.token).name).toBe('short');
    now = new Date(now.getTime() + 1_000);
    expect(codeOf(() => store.authenticate(short.token))).toBe('TOKEN_EXPIRED');
    const revoked = await store.revoke('other');
    expect(revoked.state).toBe('revoked');
    expect(codeOf(() => store.authenticate(other.token))).toBe('TOKEN_REVOKED');
    expect(store.list().map((t) => [t.name, t.state])).toEqual([
      ['short', 'expired'],
      ['other', 'revoked'],
    ]);
  });

  it('survives a restart: tokens, revocations and expiry come back from disk', async () => {
    const first = await TokenStore.open(dir, { now: clock });
    const kept = await first.create({ name: 'kept', scope: 'admin', expiresInSeconds: 3600 });
    const gone = await first.create({ name: 'gone' });
    await first.revoke(gone.id);
    const second = await TokenStore.open(dir, { now: clock });
    expect(second.authenticate(kept.token)).toMatchObject({ name: 'kept', scope: 'admin' });
    expect(codeOf(() => second.authenticate(gone.token))).toBe('TOKEN_REVOKED');
    expect(second.list().find((t) => t.name === 'kept')?.expiresAt).toBe('2026-12-01T01:00:00.000Z');
  });

  it('refuses a second active token of the same name, but allows the name again once revoked', async () => {
    const store = await TokenStore.open(dir, { now: clock });
    await store.create({ name: 'ci' });
    expect(await rejectsWith(store.create({ name: 'ci' }))).toBe('TOKEN_NAME_TAKEN');
    await store.revoke('ci');
    const again = await store.create({ name: 'ci' });
    expect(store.authenticate(again.token).id).toBe(again.id);
    // By name, revoke picks the active one
    expect((await store.revoke('ci')).id).toBe(again.id);
    expect(await rejectsWith(store.revoke('nope'))).toBe('TOKEN_NOT_FOUND');
  });

  it('keeps every one of many concurrent creates (changes are serialised)', async () => {
    const store = await TokenStore.open(dir, { now: clock });
    const made = await Promise.all(Array.from({ length: 25 }, (_, i) => store.create({ name: `t${i}` })));
    const reopened = await TokenStore.open(dir, { now: clock });
    for (const t of made) expect(reopened.authenticate(t.token).id).toBe(t.id);
    expect(reopened.list()).toHaveLength(25);
  });

  it('refuses invalid requests with the schema (names, scopes)', async () => {
    const store = await TokenStore.open(dir, { now: clock });
    await expect(store.create({ name: '../x' })).rejects.toThrow();
    await expect(store.create({ name: 'x', scope: 'root' as never })).rejects.toThrow();
    expect(store.list()).toEqual([]);
  });

  it('fails closed on a damaged file instead of starting with no tokens', async () => {
    const file = TokenStore.fileIn(dir);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"version":1,"tokens":[{"id":"tok_1"');
    expect(await rejectsWith(TokenStore.open(dir))).toBe('TOKEN_STORE_UNREADABLE');
  });

  it('leaves no temporary files behind', async () => {
    const store = await TokenStore.open(dir, { now: clock });
    await store.create({ name: 'a' });
    await store.create({ name: 'b' });
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(path.dirname(TokenStore.fileIn(dir)))).toEqual(['tokens.json']);
  });

  it('caps the number of active tokens; revoking one makes room', async () => {
    const store = await TokenStore.open(dir, { now: clock, maxActive: 3 });
    for (const name of ['a', 'b', 'c']) await store.create({ name });
    expect(await rejectsWith(store.create({ name: 'd' }))).toBe('TOKEN_LIMIT');
    await store.revoke('a');
    expect((await store.create({ name: 'd' })).state).toBe('active');
    expect(MAX_ACTIVE_TOKENS).toBe(1000);
  });
});

describe('requireScope', () => {
  it('lets admin do everything and sessions only sessions', () => {
    const p = (scope: 'sessions' | 'admin') => ({ id: 'tok_x', name: 'x', scope, team: undefined });
    expect(codeOf(() => requireScope(p('admin'), 'sessions'))).toBeUndefined();
    expect(codeOf(() => requireScope(p('admin'), 'admin'))).toBeUndefined();
    expect(codeOf(() => requireScope(p('sessions'), 'sessions'))).toBeUndefined();
    expect(codeOf(() => requireScope(p('sessions'), 'admin'))).toBe('TOKEN_SCOPE');
  });
});
