import { execa } from 'execa';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyStore } from '../../src/ssh-gateway/key-store.js';
import { parsePublicKeyLine } from '../../src/ssh-gateway/keys.js';
import { sshErrors } from '../../src/ssh-gateway/errors.js';

const hasKeygen = (await execa('sh', ['-c', 'command -v ssh-keygen'], { reject: false })).exitCode === 0;

describe.skipIf(!hasKeygen)('registered keys (needs ssh-keygen)', () => {
  let dir: string;
  const keys: Record<string, { pub: string; priv: string; fp: string }> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-keys-'));
    for (const [name, args] of Object.entries({
      ed: ['-t', 'ed25519'],
      ecdsa: ['-t', 'ecdsa'],
      rsa: ['-t', 'rsa', '-b', '3072'],
      weak: ['-t', 'rsa', '-b', '1024'],
    })) {
      const file = join(dir, name);
      await execa('ssh-keygen', ['-q', ...args, '-N', '', '-C', `${name}@host`, '-f', file]);
      const fp = (await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`])).stdout.split(
        ' ',
      )[1]!;
      keys[name] = { pub: await readFile(`${file}.pub`, 'utf8'), priv: await readFile(file, 'utf8'), fp };
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('parses OpenSSH public keys with the fingerprint ssh-keygen prints', () => {
    for (const name of ['ed', 'ecdsa', 'rsa']) {
      const out = parsePublicKeyLine(keys[name]!.pub);
      expect(out.ok && out.key.fingerprint).toBe(keys[name]!.fp);
      expect(out.ok && out.key.comment).toBe(`${name}@host`);
    }
  });

  it('refuses private keys, garbage and short RSA keys', () => {
    expect(parsePublicKeyLine(keys.ed!.priv)).toMatchObject({ ok: false, problem: 'private' });
    expect(parsePublicKeyLine('ssh-ed25519 not-base64')).toMatchObject({ ok: false, problem: 'invalid' });
    expect(parsePublicKeyLine(keys.weak!.pub)).toMatchObject({ ok: false, problem: 'unsupported' });
  });

  it('stores keys in a 0600 file, refuses duplicates and removes by fingerprint or comment', async () => {
    const file = join(dir, 'state', 'authorized-keys.json');
    const store = new KeyStore(file, { now: () => 0 });
    const [added] = await store.add(keys.ed!.pub);
    expect(added).toMatchObject({ fingerprint: keys.ed!.fp, addedAt: '1970-01-01T00:00:00.000Z' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await expect(store.add(keys.ed!.pub)).rejects.toSatisfy((e) => sshErrors.is(e, 'SSH_KEY_EXISTS'));
    await expect(store.add(keys.ed!.priv)).rejects.toSatisfy((e) => sshErrors.is(e, 'SSH_KEY_IS_PRIVATE'));
    await expect(store.add('hello')).rejects.toSatisfy((e) => sshErrors.is(e, 'SSH_KEY_INVALID'));
    await store.add(keys.rsa!.pub);
    const reloaded = new KeyStore(file, { now: () => 0 });
    expect((await reloaded.list()).map((k) => k.comment)).toEqual(['ed@host', 'rsa@host']);
    await reloaded.remove('rsa@host');
    await reloaded.remove(keys.ed!.fp);
    await expect(reloaded.remove('ed@host')).rejects.toSatisfy((e) => sshErrors.is(e, 'SSH_KEY_NOT_FOUND'));
    expect(await reloaded.list()).toEqual([]);
  });

  it('says the store is corrupt rather than starting with no keys', async () => {
    const file = join(dir, 'corrupt.json');
    await writeFile(file, '{nope');
    await expect(new KeyStore(file, { now: () => 0 }).list()).rejects.toSatisfy((e) =>
      sshErrors.is(e, 'SSH_KEY_STORE_CORRUPT'),
    );
  });
});
