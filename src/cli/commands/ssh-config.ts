import { access, mkdir, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../../shared/fs/index.js';
import type { SshGatewayReport } from '../../shared/api/ssh-keys.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { findUserPublicKeys, homeOf, publicKeyFingerprint } from './ssh-key.js';

export const BLOCK_BEGIN =
  '# >>> aibox ssh-config: managed by `aibox ssh-config --write`, edits inside are replaced >>>';
export const BLOCK_END = '# <<< aibox ssh-config <<<';

export interface SshConfigInput {
  sandboxes: readonly string[];
  gateway: Pick<SshGatewayReport, 'host' | 'port' | 'hostKeyAlias'>;
  knownHostsFile: string;
  identityFile?: string | undefined;
}

/**
 * One Host entry per sandbox, in the shape VS Code Remote-SSH and JetBrains Gateway read from ~/.ssh/config. The
 * forwarding options are off on the client side too, so a user's `Host *` defaults never even ask the gateway.
 * The block ends with `Match all` so whatever follows it in the file applies to all hosts again, as before.
 */
export function renderSshConfigBlock(input: SshConfigInput): string {
  const lines = [BLOCK_BEGIN];
  for (const name of input.sandboxes) {
    lines.push(
      `Host aibox-${name}`,
      `  HostName ${input.gateway.host}`,
      `  Port ${input.gateway.port}`,
      `  User ${name}`,
      ...(input.identityFile ? [`  IdentityFile ${quote(input.identityFile)}`, '  IdentitiesOnly yes'] : []),
      `  HostKeyAlias ${input.gateway.hostKeyAlias}`,
      `  UserKnownHostsFile ${quote(input.knownHostsFile)}`,
      '  StrictHostKeyChecking yes',
      '  ForwardAgent no',
      '  ForwardX11 no',
      '  ServerAliveInterval 30',
    );
  }
  lines.push('Match all', BLOCK_END);
  return `${lines.join('\n')}\n`;
}

/**
 * Puts the managed block into an ssh config: replaces the previous block in place, or goes first (ssh takes the
 * first value it finds for each option, so a `Host *` further down cannot override User or IdentityFile).
 */
export function mergeManagedBlock(existing: string, block: string): string {
  const start = existing.indexOf(BLOCK_BEGIN);
  const endMark = existing.indexOf(BLOCK_END, start);
  if (start >= 0 && endMark > start) {
    let end = endMark + BLOCK_END.length;
    if (existing[end] === '\n') end++;
    return existing.slice(0, start) + block + existing.slice(end);
  }
  if (existing.trim() === '') return block;
  return `${block}\n${existing}`;
}

function quote(path: string): string {
  return /\s/.test(path) ? `"${path}"` : path;
}

/** `aibox ssh-config [--write]`: a Host entry per sandbox for VS Code Remote-SSH and JetBrains Gateway. */
export async function sshConfig(
  ctx: CliContext,
  opts: { write?: boolean; identity?: string; config?: string },
): Promise<void> {
  const client = ctx.client();
  const home = homeOf(ctx);
  const [gateway, keys, sandboxes] = await Promise.all([
    client.sshKeys.gateway(),
    client.sshKeys.list(),
    client.sandboxes.list(),
  ]);
  const identityFile = opts.identity
    ? resolve(ctx.io.cwd, opts.identity)
    : await matchingIdentity(home, new Set(keys.map((k) => k.fingerprint)));
  if (!gateway.enabled)
    ctx.note('warning: the SSH gateway is disabled in the daemon config; these entries will not connect');
  if (keys.length === 0)
    ctx.note('warning: no key is registered yet: `aibox ssh-key add ~/.ssh/id_ed25519.pub`');
  else if (!identityFile) ctx.note('warning: none of your ~/.ssh keys is registered; pass --identity FILE');
  const knownHostsFile = await knownHostsFor(gateway, home, opts.write === true);
  const block = renderSshConfigBlock({
    sandboxes: sandboxes.map((s) => s.name).sort(),
    gateway,
    knownHostsFile,
    identityFile,
  });
  if (!opts.write) {
    if (ctx.json) return ctx.printJson({ config: block, knownHostsFile, identityFile: identityFile ?? null });
    ctx.io.stdout.write(block);
    return;
  }
  const file = opts.config ? resolve(ctx.io.cwd, opts.config) : join(home, '.ssh', 'config');
  await writeConfig(file, block);
  if (ctx.json) return ctx.printJson({ written: file, hosts: sandboxes.map((s) => `aibox-${s.name}`) });
  ctx.out(`wrote ${sandboxes.length} host entr${sandboxes.length === 1 ? 'y' : 'ies'} to ${file}`);
  for (const s of sandboxes) ctx.out(`  ssh aibox-${s.name}`);
}

/** The private key next to a registered ~/.ssh/*.pub. */
async function matchingIdentity(home: string, registered: Set<string>): Promise<string | undefined> {
  for (const pub of await findUserPublicKeys(home)) {
    const line = await readFile(pub, 'utf8').catch(() => '');
    const fp = publicKeyFingerprint(line);
    if (!fp || !registered.has(fp)) continue;
    const priv = pub.replace(/\.pub$/, '');
    if (await readable(priv)) return priv;
  }
  return undefined;
}

/**
 * The daemon's known_hosts file when this user can read it; otherwise a copy in ~/.ssh (written with --write),
 * so StrictHostKeyChecking always has the gateway's key to check.
 */
async function knownHostsFor(gateway: SshGatewayReport, home: string, write: boolean): Promise<string> {
  if (gateway.knownHostsFile && (await readable(gateway.knownHostsFile))) return gateway.knownHostsFile;
  const copy = join(home, '.ssh', 'aibox_known_hosts');
  if (write && gateway.knownHosts) {
    await writeFileAtomic(copy, gateway.knownHosts, { mode: 0o644, mkdirMode: 0o700 });
  }
  return copy;
}

async function writeConfig(file: string, block: string): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    const next = mergeManagedBlock(existing, block);
    if (next === existing) return;
    await writeFileAtomic(file, next, { mode: 0o600 });
  } catch (err) {
    throw cliErrors.create('SSH_CONFIG_WRITE_FAILED', `cannot update ${file}: ${(err as Error).message}`);
  }
}

async function readable(path: string): Promise<boolean> {
  return access(path, constants.R_OK).then(
    () => true,
    () => false,
  );
}
