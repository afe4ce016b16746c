import { createHash } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
const { utils } = ssh2;

/** Key types the gateway accepts from users: what OpenSSH generates by default today, nothing weaker. */
export const ACCEPTED_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

/** OpenSSH's fingerprint: SHA256 of the wire blob, base64 without padding. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export interface PublicKeyLine {
  type: string;
  /** The wire-format key blob, base64 as in an authorized_keys line. */
  blobBase64: string;
  comment: string;
  fingerprint: string;
}

export type ParseOutcome =
  | { ok: true; key: PublicKeyLine }
  | { ok: false; problem: 'private' | 'invalid' | 'unsupported'; detail: string };

/** Parses one OpenSSH public key line (`type base64 [comment]`). */
export function parsePublicKeyLine(line: string): ParseOutcome {
  const text = line.trim();
  if (/PRIVATE KEY/.test(text)) return { ok: false, problem: 'private', detail: 'the text is a private key' };
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) return { ok: false, problem: 'invalid', detail: parsed.message };
  const key = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (!key) return { ok: false, problem: 'invalid', detail: 'no key found' };
  if (key.isPrivateKey()) return { ok: false, problem: 'private', detail: 'the text is a private key' };
  if (!(ACCEPTED_KEY_TYPES as readonly string[]).includes(key.type)) {
    return {
      ok: false,
      problem: 'unsupported',
      detail: `key type ${key.type} is not accepted (use ${ACCEPTED_KEY_TYPES.join(', ')})`,
    };
  }
  if (key.type === 'ssh-rsa' && rsaBits(key) < 2048) {
    return { ok: false, problem: 'unsupported', detail: 'RSA keys shorter than 2048 bits are not accepted' };
  }
  const blob = key.getPublicSSH();
  return {
    ok: true,
    key: {
      type: key.type,
      blobBase64: blob.toString('base64'),
      comment: key.comment,
      fingerprint: fingerprintOf(blob),
    },
  };
}

/** Verifies a publickey-auth signature made by the holder of `key`. */
export function verifySignature(
  key: PublicKeyLine,
  data: Buffer,
  signature: Buffer,
  hashAlgo?: string,
): boolean {
  const parsed = utils.parseKey(`${key.type} ${key.blobBase64}`);
  if (parsed instanceof Error) return false;
  const pub = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (!pub) return false;
  const ok = pub.verify(data, signature, hashAlgo);
  return ok === true;
}

function rsaBits(key: ParsedKey): number {
  // Wire blob: string "ssh-rsa", mpint e, mpint n.
  const blob = key.getPublicSSH();
  let off = 0;
  const next = (): Buffer => {
    const len = blob.readUInt32BE(off);
    const out = blob.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return out;
  };
  next();
  next();
  const n = next();
  const first = n.findIndex((b) => b !== 0);
  if (first < 0) return 0;
  return (n.length - first) * 8 - Math.clz32(n[first]!) + 24;
}
