import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2, { type ParsedKey } from 'ssh2';
import { writeFileAtomic } from '../shared/fs/index.js';
import type { Logger } from '../shared/index.js';
import { sshErrors } from './errors.js';
import { fingerprintOf } from './keys.js';

const { utils } = ssh2;

export interface HostKey {
  /** OpenSSH-format private key, given to ssh2 only. */
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA…` */
  readonly publicLine: string;
  readonly fingerprint: string;
}

export interface GatewayFiles {
  /** Private host key, 0600. */
  hostKey: string;
  /** Public known_hosts file clients point UserKnownHostsFile at, 0644. */
  knownHosts: string;
  /** Registered user keys, 0600. */
  authorizedKeys: string;
}

export function gatewayFiles(dir: string): GatewayFiles {
  return {
    hostKey: join(dir, 'ssh_host_ed25519_key'),
    knownHosts: join(dir, 'known_hosts'),
    authorizedKeys: join(dir, 'authorized-keys.json'),
  };
}

/**
 * Loads the gateway's ed25519 host key, creating it on first start. The key persists so the IDE's known_hosts entry
 * stays valid across daemon restarts; a changed key is what StrictHostKeyChecking exists to catch.
 */
export async function loadOrCreateHostKey(file: string, logger: Logger): Promise<HostKey> {
  let pem: string | undefined;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw sshErrors.create(
        'SSH_HOST_KEY_UNREADABLE',
        `cannot read the gateway host key ${file}`,
        undefined,
        {
          cause: err,
        },
      );
    }
  }
  if (pem === undefined) {
    pem = generateParsableKey();
    await writeFileAtomic(file, pem, { mode: 0o600, mkdirMode: 0o700 });
    logger.info({ file }, 'generated the SSH gateway host key');
  } else {
    const mode = (await stat(file)).mode & 0o777;
    if (mode !== 0o600) {
      await chmod(file, 0o600);
      logger.warn({ file, mode: mode.toString(8) }, 'host key had loose permissions; set them to 0600');
    }
  }
  const key = parsePrivateKey(pem);
  if (!key) {
    throw sshErrors.create(
      'SSH_HOST_KEY_UNREADABLE',
      `the gateway host key ${file} is not an OpenSSH private key`,
    );
  }
  const blob = key.getPublicSSH();
  return {
    privateKey: pem,
    publicLine: `${key.type} ${blob.toString('base64')}`,
    fingerprint: fingerprintOf(blob),
  };
}

function parsePrivateKey(pem: string): ParsedKey | undefined {
  const parsed = utils.parseKey(pem);
  const key = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  return key && !(key instanceof Error) && key.isPrivateKey() ? key : undefined;
}

/**
 * A new ed25519 key that ssh2 can read back: ssh2 1.x generates about one key in 256 that its own parser refuses
 * (mscdex/ssh2#1390), which would make a fresh daemon fail to start. A handful of tries makes that vanishingly rare.
 */
function generateParsableKey(): string {
  for (let attempt = 0; attempt < 8; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519', { comment: 'aibox-gateway' });
    if (parsePrivateKey(pair.private)) return pair.private;
  }
  throw sshErrors.create('SSH_HOST_KEY_UNREADABLE', 'cannot generate a readable gateway host key');
}

/** known_hosts lines for the gateway: under its alias (what ssh-config uses) and under [host]:port. */
export function renderKnownHosts(hostKey: HostKey, alias: string, host: string, port: number): string {
  const hostPattern = port === 22 ? host : `[${host}]:${port}`;
  return `${alias} ${hostKey.publicLine}\n${hostPattern} ${hostKey.publicLine}\n`;
}

export async function writeKnownHosts(file: string, content: string): Promise<void> {
  await writeFileAtomic(file, content, { mode: 0o644 });
}
