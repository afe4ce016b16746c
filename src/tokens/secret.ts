import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A token is `aibox_<id>_<secret>`: a public id (`tok_` + 12 hex digits, the key it is found by) and a 256-bit
 * random secret (base64url). Only sha256(secret) is kept: a secret that long needs no slow hash, and the id lets
 * the daemon compare exactly one hash, in constant time.
 */
const TOKEN_PATTERN = /^aibox_(tok_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface IssuedSecret {
  id: string;
  token: string;
  hash: string;
}

export function issueSecret(): IssuedSecret {
  const id = `tok_${randomBytes(6).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `aibox_${id}_${secret}`, hash: hashSecret(secret) };
}

/** The id and secret of a well-formed token; undefined for anything else (never echoed back). */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_PATTERN.exec(token);
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash (both sha256 hex of equal length). */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
