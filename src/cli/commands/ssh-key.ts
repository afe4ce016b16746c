import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';

/** The user's home as the CLI sees it (HOME from the injected environment, for tests). */
export function homeOf(ctx: CliContext): string {
  return ctx.io.env['HOME'] || homedir();
}

/** `~/.ssh/*.pub`, the preferred key type first: what `setup` and `ssh-key add` offer. */
export async function findUserPublicKeys(home: string): Promise<string[]> {
  const dir = join(home, '.ssh');
  const names = await readdir(dir).catch(() => [] as string[]);
  const order = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'];
  return names
    .filter((n) => n.endsWith('.pub'))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((n) => join(dir, n));
  function rank(n: string): number {
    const i = order.indexOf(n);
    return i < 0 ? order.length : i;
  }
}

/** SHA256 fingerprint of an OpenSSH public key line (what the daemon reports), without parsing the key itself. */
export function publicKeyFingerprint(line: string): string | undefined {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return undefined;
  return `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** `aibox ssh-key add [FILE]`: allow a public key to log in to sandboxes over SSH. */
export async function add(ctx: CliContext, file: string | undefined): Promise<void> {
  const path = file ? resolve(ctx.io.cwd, file) : await pickUserKey(ctx);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw cliErrors.create('SSH_KEY_FILE_UNREADABLE', `cannot read ${path}`);
  }
  const added = await ctx.client().sshKeys.add(text);
  if (ctx.json) return ctx.printJson({ added });
  for (const k of added) ctx.out(`added ${k.fingerprint} ${k.comment || '(no comment)'} (${k.type})`);
  ctx.note('next: `aibox ssh-config --write` adds Host entries for your IDE to ~/.ssh/config');
}

export async function list(ctx: CliContext): Promise<void> {
  const keys = await ctx.client().sshKeys.list();
  if (ctx.json) return ctx.printJson({ keys });
  if (keys.length === 0)
    return ctx.out('no keys registered (add one with `aibox ssh-key add ~/.ssh/id_ed25519.pub`)');
  for (const k of keys) ctx.out(`${k.fingerprint}  ${k.type}  ${k.comment || '-'}  added ${k.addedAt}`);
}

/** `aibox ssh-key rm KEY` (open sessions keep running until they end). */
export async function rm(ctx: CliContext, key: string): Promise<void> {
  const removed = await ctx.client().sshKeys.remove(key);
  if (ctx.json) return ctx.printJson({ removed });
  ctx.out(`removed ${removed.fingerprint} ${removed.comment}`);
}

async function pickUserKey(ctx: CliContext): Promise<string> {
  const found = await findUserPublicKeys(homeOf(ctx));
  if (found.length === 0) throw cliErrors.create('SSH_NO_KEY_FOUND', 'no public key in ~/.ssh');
  if (found.length === 1 || found[0]!.endsWith('/id_ed25519.pub')) {
    ctx.note(`using ${found[0]!}`);
    return found[0]!;
  }
  throw cliErrors.create('SSH_KEY_CHOICE_NEEDED', `found ${found.length} keys: ${found.join(', ')}`, {
    keys: found,
  });
}
